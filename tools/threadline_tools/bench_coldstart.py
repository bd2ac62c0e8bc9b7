"""Cold start of every function of template.yaml, against a floor.

Each function is imported in a fresh interpreter the way the Lambda runtime
loads it: ``importlib.import_module("app")`` with ``sys.path`` = [CodeUri,
layer, runtime], where the layer holds exactly the distributions of
``layers/threadline/requirements.lock`` plus the threadline package, and the
runtime holds boto3 and its dependencies (as the Lambda Python runtime does).
Nothing else of this machine's site-packages is visible. Next to every function
run, the floor ``import boto3; boto3.client("dynamodb")`` is measured by the
same method, and the ratio is taken per pair, so drift of the machine cancels
out. The median of ``--runs`` pairs is shown. Bytecode is cached in a private
directory (a warm-up run fills it), as a layer built with ``.pyc`` files would
have it; ``--no-layer-pyc`` measures a layer without them. "import + 1st
request" then also answers one request against a moto server (the floor: one
GetItem), in the same child, so it counts the clients, validation models and
code the first request needs.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from threadline_tools.bench_moto import FAKE_CREDENTIALS, REGION, moto_server
from threadline_tools.bench_seed import ColdRequests
from threadline_tools.template import ROOT, authorizer_function, function_code, resources, routes, template

LAYER_DIR = ROOT / "layers" / "threadline"
LAYER_LOCK = LAYER_DIR / "requirements.lock"
LAYER_PACKAGE = LAYER_DIR / "threadline"
AGENTS_PACKAGE = ROOT / "layers" / "agents" / "threadline_agents"
RUNTIME_DISTRIBUTIONS = ("boto3",)  # what the Lambda Python runtime ships, with their dependencies
FLOOR = "floor"

# Runs in a fresh interpreter (-I -S): measures the import of one handler module,
# or the floor, then optionally answers one request. Prints one "BENCH {json}" line.
_CHILD = r"""
import json, sys, time
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["path"]
import importlib

start = time.perf_counter()
if spec["module"] is None:
    import boto3
    client = boto3.client("dynamodb", region_name="us-east-1")
else:
    handler = getattr(importlib.import_module(spec["module"]), spec["handler"])
imported = time.perf_counter()

clients = 0
if "botocore.client" in sys.modules:
    import gc
    base = sys.modules["botocore.client"].BaseClient
    clients = sum(1 for o in gc.get_objects() if isinstance(o, base))
if spec["module"] is None:
    clients -= 1  # the floor's own client

status, first = None, None
if spec.get("call") is not None:
    begin = time.perf_counter()
    if spec["module"] is None:
        status = "hit" if "Item" in client.get_item(**spec["call"]) else "miss"
    else:
        class Context:
            function_name = spec["function"]
            function_version = "$LATEST"
            memory_limit_in_mb = 512
            aws_request_id = "bench-request"
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + spec["function"]
            log_group_name = "/aws/lambda/" + spec["function"]
            log_stream_name = "bench"

            def get_remaining_time_in_millis(self):
                return 10000

        try:
            result = handler(spec["call"], Context())
            status = result.get("statusCode") or ("allow" if "principalId" in result else "?")
        except Exception as error:  # an authorizer denies by raising
            status = str(error) or type(error).__name__
    first = (imported - start) + (time.perf_counter() - begin)
result = {"import": imported - start, "first": first, "clients_at_import": clients, "status": status}
print("BENCH " + json.dumps(result))
"""


# ----------------------------------------------------------------------------
# A Lambda-like sys.path built from this environment's installed distributions
# ----------------------------------------------------------------------------
def _distribution_names(lock: Path) -> list[str]:
    names = []
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(Requirement(line).name)
    return names


def _with_dependencies(roots: tuple[str, ...]) -> list[str]:
    seen: list[str] = []
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name.lower() in (s.lower() for s in seen):
            continue
        seen.append(name)
        for raw in metadata.requires(name) or []:
            requirement = Requirement(raw)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return seen


def _link_distribution(name: str, target: Path) -> None:
    """Symlink a distribution's top-level packages/modules (and its dist-info) into ``target``."""
    dist = metadata.distribution(name)
    base = Path(str(dist.locate_file("")))
    tops = {Path(str(f)).parts[0] for f in dist.files or ()}
    for top in sorted(tops - {"..", "__pycache__"}):
        source, link = base / top, target / top
        if source.exists() and not link.exists():
            link.symlink_to(source)


def lambda_paths(workdir: Path) -> tuple[Path, Path]:
    """(layer, runtime) directories: /opt/python and the runtime's site-packages. The agents
    layer's package is beside them (``agents_layer``), for the functions that attach it."""
    layer, runtime = workdir / "layer", workdir / "runtime"
    for directory in (layer, runtime, agents_layer(workdir)):
        directory.mkdir(parents=True, exist_ok=True)
    for name in _distribution_names(LAYER_LOCK):
        _link_distribution(name, layer)
    (layer / "threadline").symlink_to(LAYER_PACKAGE)
    (agents_layer(workdir) / "threadline_agents").symlink_to(AGENTS_PACKAGE)
    for name in _with_dependencies(RUNTIME_DISTRIBUTIONS):
        _link_distribution(name, runtime)
    return layer, runtime


def agents_layer(workdir: Path) -> Path:
    """The directory standing for the agents layer."""
    return workdir / "agents-layer"


def uses_agents_layer(function: str) -> bool:
    """Whether template.yaml attaches the agents layer to ``function`` (besides the shared one)."""
    layers = resources("AWS::Serverless::Function")[function]["Properties"].get("Layers", [])
    return {"Ref": "AgentsLayer"} in layers


# ----------------------------------------------------------------------------
# Cold start
# ----------------------------------------------------------------------------
@dataclass
class Sample:
    """One child's figures, in seconds."""

    imported: float
    first: float | None
    clients_at_import: int
    status: Any


@dataclass
class ColdStart:
    """Median figures of one function against its paired floor runs."""

    function: str
    kind: str  # authorizer | route | other
    import_ms: float
    floor_ms: float
    ratio: float
    first_ms: float | None = None
    floor_first_ms: float | None = None
    first_ratio: float | None = None
    clients_at_import: int = 0
    status: Any = None
    samples_ms: list[float] = field(default_factory=list)


def _function_kinds() -> dict[str, str]:
    authorizer = authorizer_function()
    kinds = {}
    for name in resources("AWS::Serverless::Function"):
        methods = {r.method for r in routes() if r.function == name}
        if name == authorizer:
            kinds[name] = "authorizer"
        elif methods and methods != {"ANY"}:
            kinds[name] = "route"
        else:
            kinds[name] = "other"
    return kinds


def _globals_environment() -> dict[str, str]:
    """The literal (non-Ref) environment variables of the template's Globals."""
    variables = template().get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    return {name: value for name, value in variables.items() if isinstance(value, str)}


class _Children:
    """Runs the measuring child interpreter."""

    def __init__(self, workdir: Path, layer: Path, runtime: Path, environment: dict[str, str]) -> None:
        self._layer, self._runtime = layer, runtime
        self._agents_layer = agents_layer(workdir)
        self._pycache = workdir / "pycache"
        self._environment = environment
        self._flags = ["-I", "-S", "-X", f"pycache_prefix={self._pycache}"]

    def drop_layer_bytecode(self) -> None:
        """Forget the layer's (and the functions') cached bytecode, and write none again."""
        for source in (self._layer, self._agents_layer, ROOT / "functions"):
            mirrored = self._pycache / source.resolve().relative_to(source.resolve().anchor)
            shutil.rmtree(mirrored, ignore_errors=True)
            mirrored = self._pycache / source.relative_to(source.anchor)
            shutil.rmtree(mirrored, ignore_errors=True)
        self._flags = ["-B", *self._flags]

    def run(self, function: str | None, call: Any = None) -> Sample:
        spec: dict[str, Any] = {"module": None, "handler": None, "function": function or FLOOR, "call": call}
        path = [str(self._layer), str(self._runtime)]
        if function is not None:
            code_uri, handler = function_code(function)
            module, _, attribute = handler.rpartition(".")
            spec.update(module=module, handler=attribute)
            path.insert(0, str(code_uri))
            if uses_agents_layer(function):
                path.insert(2, str(self._agents_layer))
        spec["path"] = path
        done = subprocess.run(
            [sys.executable, *self._flags, "-c", _CHILD, json.dumps(spec)],
            env=self._environment,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tempfile.gettempdir(),
        )
        line = next((x for x in reversed(done.stdout.splitlines()) if x.startswith("BENCH ")), None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"benchmark child for {function or FLOOR} failed:\n{done.stderr or done.stdout}")
        result = json.loads(line.removeprefix("BENCH "))
        return Sample(result["import"], result["first"], result["clients_at_import"], result["status"])


def cold_start(
    runs: int = 7,
    first_request: bool = True,
    layer_pyc: bool = True,
    functions: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Import (and first-request) times of every function against the floor, median of ``runs`` pairs."""
    kinds = _function_kinds()
    unknown = set(functions or ()) - set(kinds)
    if unknown:
        raise ValueError(f"no such function in template.yaml: {', '.join(sorted(unknown))}")
    names = [n for n in kinds if not functions or n in functions]
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as tmp:
        workdir = Path(tmp)
        layer, runtime = lambda_paths(workdir)
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(workdir),  # no ~/.aws of this machine
            "LANG": "C.UTF-8",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            **FAKE_CREDENTIALS,
            **_globals_environment(),
        }
        with moto_server() if first_request else _nothing() as endpoint:
            requests = ColdRequests(endpoint) if endpoint else None
            deployment_env = requests.deployment.environment() if requests else _placeholder_environment()
            environment.update(deployment_env)
            if endpoint:
                environment["AWS_ENDPOINT_URL"] = endpoint
            children = _Children(workdir, layer, runtime, environment)

            def call(name: str | None) -> Any:
                if requests is None:
                    return None
                return requests.floor_call() if name is None else requests.event(name, kinds[name])

            # Warm-up: fills the bytecode cache and the OS file cache; not counted.
            for name in [None, *names]:
                children.run(name, call(name))
            if not layer_pyc:
                children.drop_layer_bytecode()

            samples: dict[str, list[tuple[Sample, Sample]]] = {n: [] for n in names}
            for round_ in range(runs):
                if progress:
                    progress(f"cold start: round {round_ + 1}/{runs}")
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    floor = children.run(None, call(None))
                    samples[name].append((floor, children.run(name, call(name))))

    results = []
    for name in names:
        pairs = samples[name]
        result = ColdStart(
            function=name,
            kind=kinds[name],
            import_ms=_median_ms(s.imported for _, s in pairs),
            floor_ms=_median_ms(f.imported for f, _ in pairs),
            ratio=round(statistics.median(s.imported / f.imported for f, s in pairs), 2),
            clients_at_import=max(s.clients_at_import for _, s in pairs),
            status=pairs[-1][1].status,
            samples_ms=[round(s.imported * 1000, 1) for _, s in pairs],
        )
        if first_request:
            result.first_ms = _median_ms(s.first or 0.0 for _, s in pairs)
            result.floor_first_ms = _median_ms(f.first or 0.0 for f, _ in pairs)
            result.first_ratio = round(statistics.median((s.first or 0) / (f.first or 1) for f, s in pairs), 2)
        results.append(result)
    all_floors = [f for pairs in samples.values() for f, _ in pairs]
    return {
        "runs": runs,
        "layer_pyc": layer_pyc,
        "first_request": first_request,
        "floor_ms": _median_ms(f.imported for f in all_floors),
        "floor_first_ms": _median_ms(f.first or 0.0 for f in all_floors) if first_request else None,
        "functions": [asdict(r) for r in results],
    }


@contextmanager
def _nothing() -> Iterator[str]:
    yield ""


def _placeholder_environment() -> dict[str, str]:
    return {
        "THREADS_TABLE": "bench-threads",
        "KEYS_TABLE": "bench-keys",
        "STATE_MACHINE_ARN": f"arn:aws:states:{REGION}:123456789012:stateMachine:bench",
        "KMS_KEY_ID": "bench-key",
        "RETENTION_DAYS": "30",
    }


def _median_ms(values: Iterable[float]) -> float:
    return round(statistics.median(list(values)) * 1000, 1)
