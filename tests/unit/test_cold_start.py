"""Import-time budgets of the handler modules (timed by ``make bench``; guarded here).

Each function module is imported in a fresh interpreter, as Lambda loads it,
and must do nothing but import: no AWS client, no read of its deployment's
environment. What it imports is checked against what its first request needs.
"""

from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
from typing import Any

import pytest
from threadline_tools.template import ROOT, authorizer_function, function_code, resources

DEPLOYMENT_VARIABLES = {"THREADS_TABLE", "KEYS_TABLE", "STATE_MACHINE_ARN", "KMS_KEY_ID", "RETENTION_DAYS"}

_CHILD = r"""
import gc, json, os, sys

class Watching(type(os.environ)):
    read = set()

    def __getitem__(self, key):
        Watching.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        Watching.read.add(key)
        return super().__contains__(key)

os.environ.__class__ = Watching
sys.path.insert(0, sys.argv[1])
module = __import__(sys.argv[2])
clients = 0
if "botocore.client" in sys.modules:
    base = sys.modules["botocore.client"].BaseClient
    clients = sum(1 for o in gc.get_objects() if isinstance(o, base))
print(json.dumps({"modules": sorted(sys.modules), "read": sorted(Watching.read), "clients": clients}))
"""


def _import(function: str) -> dict[str, Any]:
    return dict(json.loads(_in_child(_CHILD, function).splitlines()[-1]))


def _in_child(script: str, function: str) -> str:
    """What ``script`` prints, run in a fresh interpreter with the function's module to import."""
    code_uri, handler = function_code(function)
    done = subprocess.run(
        [sys.executable, "-c", script, str(code_uri), handler.rpartition(".")[0]],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def _imported(found: dict[str, Any], package: str) -> bool:
    return any(m == package or m.startswith(f"{package}.") for m in found["modules"])


@pytest.mark.parametrize("function", sorted(resources("AWS::Serverless::Function")))
def test_importing_a_function_only_imports(function: str) -> None:
    found = _import(function)
    assert found["clients"] == 0, "an AWS client was created at import time"
    assert not DEPLOYMENT_VARIABLES & set(found["read"]), "the environment was read at import time"
    # boto3 (resources, s3transfer) is ~25 ms of cold start the functions do not use: botocore suffices.
    assert not _imported(found, "boto3")
    # user_data encryption imports cryptography when a request needs it.
    assert not _imported(found, "cryptography")


def test_the_authorizer_imports_neither_powertools_nor_pydantic() -> None:
    found = _import(authorizer_function())
    assert not _imported(found, "aws_lambda_powertools")
    assert not _imported(found, "pydantic")


def test_the_405_function_imports_neither_powertools_nor_pydantic_nor_botocore() -> None:
    # It answers from the route table alone
    found = _import("MethodNotAllowedFunction")
    assert not _imported(found, "aws_lambda_powertools")
    assert not _imported(found, "pydantic")
    assert not _imported(found, "botocore")


@pytest.mark.parametrize("function", sorted(resources("AWS::Serverless::Function")))
def test_no_function_imports_the_agents_code_at_import_time(function: str) -> None:
    # The agents layer is attached to the agent function only, which imports an agent when it runs one
    assert not _imported(_import(function), "threadline_agents")


def test_nothing_draws_from_a_generator_a_snapstart_snapshot_would_copy() -> None:
    # With SnapStart, every execution environment restored from one snapshot holds the same
    # state of whatever was made at import: the random module's shared generator would repeat
    # its draws in each (retries with the same jitter). Random values come from os.urandom
    # (secrets, uuid4, threadline.timeutil.backoff's SystemRandom); clients and credentials are
    # made at the first request (test_importing_a_function_only_imports).
    shared_generator = set(dir(random)) - {"SystemRandom", "Random", "seed"}  # (seed: after a restore)
    for path in [*ROOT.glob("layers/*/threadline*/**/*.py"), *ROOT.glob("functions/*/app.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "random":
                assert node.attr not in shared_generator, f"{path}: random.{node.attr}"
            if isinstance(node, ast.ImportFrom) and node.module == "random":
                assert {alias.name for alias in node.names} <= {"SystemRandom"}, path


_RESTORE_CHILD = r"""
import random, sys, types
hooks = []
sys.modules["snapshot_restore_py"] = types.SimpleNamespace(register_after_restore=hooks.append)
sys.path.insert(0, sys.argv[1])
__import__(sys.argv[2])
state = random.getstate()
for hook in hooks:
    hook()
print(random.getstate() != state)
"""


@pytest.mark.parametrize("function", ["CreateThreadFunction", "AgentFunction", "AuthorizerFunction"])
def test_a_snapstart_restore_seeds_the_shared_random_generator_again(function: str) -> None:
    # (botocore's retry jitter draws from it: restored environments must not all draw the same)
    assert _in_child(_RESTORE_CHILD, function).split() == ["True"]
