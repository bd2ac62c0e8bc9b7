"""Benchmark: cold start of every function, and DynamoDB cost per request.

``python -m threadline_tools.bench [--runs 7] [--json]``

Cold start. Each function of template.yaml is imported in a fresh interpreter
the way the Lambda runtime loads it: ``importlib.import_module("app")`` with
``sys.path`` = [CodeUri, layer, runtime], where the layer holds exactly the
distributions of ``layers/threadline/requirements.lock`` plus the threadline
package, and the runtime holds boto3 and its dependencies (as the Lambda Python
runtime does). Nothing else of this machine's site-packages is visible. Next to
every function run, the floor ``import boto3; boto3.client("dynamodb")`` is
measured by the same method, and the ratio is taken per pair, so drift of the
machine cancels out. The median of ``--runs`` pairs is shown. Bytecode is
cached in a private directory (a warm-up run fills it), as a layer built with
``.pyc`` files would have it; ``--no-layer-pyc`` measures a layer without them.
"import + 1st request" then also answers one request against a moto server
(the floor: one GetItem), in the same child, so it counts the clients,
validation models and code the first request needs.

DynamoDB cost. On moto in-process, with the template's tables, a seeded table
(200 threads across 2 orgs by default) and the in-process gateway (the
authorizer, then the route's handler), botocore event hooks on the process's
clients count the DynamoDB calls by operation, the items each read (``Count``
and ``ScannedCount`` of a Query/Scan, 1 per GetItem hit), and the KMS and Step
Functions calls of every request. moto's Query cost grows with the table, so
nothing of DynamoDB is timed: it is counted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from threadline_tools.bench_workflow import render as render_workflow
from threadline_tools.bench_workflow import workflow_costs
from threadline_tools.template import ROOT, authorizer_function, function_code, resources, routes, template

REGION = "us-east-1"
LAYER_DIR = ROOT / "layers" / "threadline"
LAYER_LOCK = LAYER_DIR / "requirements.lock"
LAYER_PACKAGE = LAYER_DIR / "threadline"
RUNTIME_DISTRIBUTIONS = ("boto3",)  # what the Lambda Python runtime ships, with their dependencies
ROUTE_TARGET = 1.4  # every route function's import ≤ 1.4 x the floor
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
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
    """(layer, runtime) directories: /opt/python and the runtime's site-packages."""
    layer, runtime = workdir / "layer", workdir / "runtime"
    for directory in (layer, runtime):
        directory.mkdir(parents=True, exist_ok=True)
    for name in _distribution_names(LAYER_LOCK):
        _link_distribution(name, layer)
    (layer / "threadline").symlink_to(LAYER_PACKAGE)
    for name in _with_dependencies(RUNTIME_DISTRIBUTIONS):
        _link_distribution(name, runtime)
    return layer, runtime


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


class _ColdRequests:
    """Seeds a moto server and builds each function's first request (an event, or the floor's GetItem)."""

    def __init__(self, endpoint: str) -> None:
        import boto3
        from threadline.auth.api_keys import ApiKeyRecord, generate_key, hash_key
        from threadline.store.api_keys import ApiKeyStore
        from threadline.store.crypto import UserDataCipher
        from threadline.store.threads import ThreadStore
        from threadline.timeutil import now_iso

        from threadline_tools.provision import provision

        args: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self.deployment = provision("bench-cold", **args)
        dynamodb = boto3.client("dynamodb", **args)
        self._keys = ApiKeyStore(dynamodb, self.deployment.keys_table)
        key_id, self._key = generate_key()
        self._key_hash = hash_key(self._key)
        self._keys.put(
            ApiKeyRecord(
                key_hash=self._key_hash,
                key_id=key_id,
                org_id="bench-org",
                name="bench key",
                scopes=("read", "write"),
                created_at=now_iso(),
            )
        )
        kms = boto3.client("kms", **args)
        cipher = UserDataCipher(lambda: kms, self.deployment.kms_key_id)
        self._store = ThreadStore(dynamodb, self.deployment.threads_table, cipher)
        self._shared_thread = self._new_thread()
        from threadline.store.contexts import ContextStore

        self._contexts = ContextStore(dynamodb, self.deployment.threads_table)
        self._new_context("biz-001")  # the business threads are created on

    def _new_context(self, context_id: str | None = None) -> str:
        from threadline.timeutil import now_iso

        from threadline_tools.local import SAMPLE_BUSINESS

        context_id = context_id or f"biz-{uuid.uuid4()}"
        self._contexts.put("bench-org", "business", context_id, json.dumps(SAMPLE_BUSINESS), now_iso())
        return context_id

    def _new_thread(self) -> str:
        from threadline.models.domain import Requester, Thread
        from threadline.timeutil import now_iso

        stamp = now_iso()
        thread = Thread(
            id=str(uuid.uuid4()),
            type="cip_orchestrator",
            status="running",
            org_id="bench-org",
            project_id="default",
            context_type="business",
            context_id="biz-001",
            metadata={"tier": "gold"},
            user_data=json.dumps({"note": "benchmark"}),
            requester=Requester(id="bench", name="bench"),
            created_at=stamp,
            updated_at=stamp,
        )
        self._store.create(thread, execution_name=thread.id)
        return thread.id

    def floor_call(self) -> dict[str, Any]:
        return {"TableName": self.deployment.keys_table, "Key": {"key_hash": {"S": self._key_hash}}}

    def event(self, function: str, kind: str) -> dict[str, Any]:
        from threadline.auth.authorizer import authorize

        from threadline_tools.gateway import ACCOUNT, API_ID, STAGE, Gateway

        route = next((r for r in routes() if r.function == function), None)
        if route is None:  # the authorizer: authorize a list request
            route = next(r for r in routes() if r.method == "GET" and "{" not in r.path)
        method = "PUT" if route.method == "ANY" else route.method
        thread_id = self._new_thread() if method == "DELETE" else self._shared_thread
        path = route.path.replace("{thread_id}", thread_id)
        params = {"thread_id": thread_id} if "{thread_id}" in route.path else {}
        if "{context_id}" in route.path:
            context_id = self._new_context() if method == "DELETE" else "biz-001"
            path = path.replace("{context_type}", "business").replace("{context_id}", context_id)
            params.update(context_type="business", context_id=context_id)
        body = None
        if method == "PUT" and route.method == "PUT":
            from threadline_tools.local import SAMPLE_BUSINESS

            body = json.dumps(SAMPLE_BUSINESS)
        if method == "POST":
            body = json.dumps(
                {"type": "cip_orchestrator", "business_id": "biz-001", "metadata": {"tier": "gold"}, "user_data": "x"}
            )
        headers = {"Authorization": f"Bearer {self._key}", "Content-Type": "application/json"}
        event = Gateway._event(method, path, route.path, headers, {}, body, params)
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}"
        request = {"type": "REQUEST", "methodArn": method_arn, **event}
        if kind == "authorizer":
            return request
        policy = authorize(request, self._keys)
        event["requestContext"]["authorizer"] = {**policy["context"], "principalId": policy["principalId"]}
        return event


@contextmanager
def _moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    werkzeug = logging.getLogger("werkzeug")  # one access-log line per request otherwise
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug.setLevel(level)


class _Children:
    """Runs the measuring child interpreter."""

    def __init__(self, workdir: Path, layer: Path, runtime: Path, environment: dict[str, str]) -> None:
        self._layer, self._runtime = layer, runtime
        self._pycache = workdir / "pycache"
        self._environment = environment
        self._flags = ["-I", "-S", "-X", f"pycache_prefix={self._pycache}"]

    def drop_layer_bytecode(self) -> None:
        """Forget the layer's (and the functions') cached bytecode, and write none again."""
        for source in (self._layer, ROOT / "functions"):
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
        with _moto_server() if first_request else _nothing() as endpoint:
            requests = _ColdRequests(endpoint) if endpoint else None
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


def _median_ms(values: Any) -> float:
    return round(statistics.median(list(values)) * 1000, 1)


# ----------------------------------------------------------------------------
# DynamoDB cost per request
# ----------------------------------------------------------------------------
@dataclass
class Call:
    """One AWS API call a request made."""

    service: str
    operation: str
    table: str | None = None
    index: str | None = None
    select: str | None = None
    read: int = 0
    returned: int = 0
    error: str | None = None
    role: str = "route"  # or "authorizer" (the keys table)


class CallRecorder:
    """Counts the API calls of the clients it is attached to (botocore event hooks)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._clients: list[Any] = []  # kept alive, so an id is never reused

    def attach(self, *clients: Any) -> None:
        """Hook ``clients`` (each once)."""
        for client in clients:
            if any(client is seen for seen in self._clients):
                continue
            self._clients.append(client)
            client.meta.events.register("provide-client-params", self._params)
            client.meta.events.register("after-call", self._after)

    @staticmethod
    def _params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench"] = {
            "table": params.get("TableName"),
            "index": params.get("IndexName"),
            "select": params.get("Select"),
        }

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        seen = context.get("bench", {})
        call = Call(model.service_model.service_name, model.name, seen.get("table"), seen.get("index"))
        call.select = seen.get("select")
        call.error = (parsed.get("Error") or {}).get("Code")
        if call.operation in ("Query", "Scan"):
            call.read = int(parsed.get("ScannedCount", 0))
            call.returned = int(parsed.get("Count", 0))
        elif call.operation == "GetItem":
            call.read = call.returned = 1 if "Item" in parsed else 0
        elif call.operation == "BatchGetItem":
            call.read = call.returned = sum(len(v) for v in parsed.get("Responses", {}).values())
        self.calls.append(call)

    @contextmanager
    def recording(self) -> Iterator[list[Call]]:
        """The calls made inside the block."""
        start = len(self.calls)
        found: list[Call] = []
        try:
            yield found
        finally:
            found.extend(self.calls[start:])


@dataclass
class RequestCost:
    """What one request cost in AWS calls."""

    request: str
    method: str
    path: str
    status: int
    dynamodb: dict[str, int]  # the route's calls by operation
    items_read: int
    items_returned: int
    authorizer: dict[str, int]  # the authorizer's DynamoDB calls by operation
    kms: dict[str, int]
    stepfunctions: dict[str, int]
    calls: list[dict[str, Any]]


@dataclass(frozen=True)
class _Request:
    name: str
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    body: Any = None
    before: Callable[[], dict[str, list[str]]] | None = None  # an unmeasured request that yields the query


def dynamodb_costs(threads: int = 200, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """DynamoDB, KMS and Step Functions calls of each benchmark request on a seeded moto deployment."""
    from moto import mock_aws
    from threadline.store import clients, factory

    from threadline_tools.gateway import Gateway
    from threadline_tools.lambda_bridge import bridged, patched_moto
    from threadline_tools.provision import provision

    # The handlers log to stdout (Powertools); keep stdout for the report.
    with _aws_sandbox(), redirect_stdout(sys.stderr), mock_aws(config=MOTO_CONFIG), patched_moto():
        deployment = provision("bench")
        os.environ.update(deployment.environment())
        factory.reset()
        with bridged(deployment.functions):
            try:
                if progress:
                    progress(f"DynamoDB: seeding {threads} threads")
                seeded = _seed(deployment, threads)
                gateway = Gateway()
                recorder = CallRecorder()
                results = []
                for request in _requests(seeded, gateway):
                    headers = {"Authorization": f"Bearer {seeded.key}", "Content-Type": "application/json"}
                    query = dict(request.query)
                    if request.before is not None:
                        query.update(request.before())
                    # A fresh cipher cache per request: KMS calls as a new container makes them.
                    factory.thread_store.cache_clear()
                    recorder.attach(clients.dynamodb(), clients.kms(), clients.stepfunctions())
                    body = json.dumps(request.body) if request.body is not None else None
                    with recorder.recording() as calls:
                        reply = gateway.request(request.method, request.path, headers, query, body)
                    results.append(_cost(request, reply.status, calls, deployment.keys_table))
                    # A created thread's workflow runs on (its agent function shares these clients):
                    # let it finish so its calls are not counted against the next request.
                    _settle(deployment)
                _settle(deployment)
            finally:
                factory.reset()
    return {
        "threads": threads,
        "orgs": 2,
        "requests": [asdict(r) for r in results],
    }


@dataclass
class _Seeded:
    key: str
    org: str
    get_id: str
    agentuity_get_id: str
    delete_ids: list[str]
    business_id: str
    per_org: int


def _seed(deployment: Any, count: int) -> _Seeded:
    """``count`` threads over two orgs: mixed statuses, businesses, projects, metadata; some user_data, some deleted."""
    from boto3.dynamodb.types import TypeSerializer
    from threadline.auth.api_keys import ApiKeyRecord, generate_key, hash_key
    from threadline.models.domain import Requester, Thread
    from threadline.store import clients, factory, keys
    from threadline.store.api_keys import ApiKeyStore
    from threadline.timeutil import format_time, now_iso

    orgs = ("acme", "globex")
    key_id, key = generate_key()
    ApiKeyStore(clients.dynamodb(), deployment.keys_table).put(
        ApiKeyRecord(
            key_hash=hash_key(key),
            key_id=key_id,
            org_id=orgs[0],
            name="bench key",
            scopes=("read", "write"),
            created_at=now_iso(),
        )
    )
    statuses = ("running", "completed", "running", "completed", "failed")
    statuses += ("completed", "running", "cancelled", "completed", "interrupted")
    store = factory.thread_store()
    base = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
    ids: dict[str, list[str]] = {org: [] for org in orgs}
    for i in range(count):
        org = orgs[i % 2]
        n = i // 2
        stamp = format_time(base + timedelta(minutes=i))
        deleted = n % 20 == 19
        thread = Thread(
            id=str(uuid.UUID(int=i + 1)),
            type="cip_orchestrator",
            status=statuses[n % len(statuses)],
            org_id=org,
            project_id="growth" if n % 5 == 4 else "default",
            context_type="business",
            context_id=f"biz-{n % 20:03d}",
            metadata={"tier": "gold" if n % 4 == 0 else "silver", "region": ("eu", "us")[n % 2], "seq": n},
            user_data=json.dumps({"customer": f"c-{n}", "notes": "x" * 200}) if n % 2 == 0 else None,
            requester=Requester(id=key_id, name="bench key"),
            created_at=stamp,
            updated_at=stamp,
            deleted=deleted,
            deleted_at=stamp if deleted else None,
            deleted_by=key_id if deleted else None,
        )
        store.create(thread, execution_name=thread.id)
        ids[org].append(thread.id)
    # Three steps on the thread that is read, as the workflow records them.
    mine = ids[orgs[0]]
    serializer = TypeSerializer()
    for s in range(3):
        started = format_time(base + timedelta(minutes=1, seconds=s))
        step = {
            **keys.thread_key(orgs[0], mine[0]),
            "id": f"step-{s}",
            "run_id": "run-1",
            "name": f"step_{s}",
            "label": f"Step {s}",
            "status": "completed",
            "started_at": started,
            "completed_at": started,
            "agent": "bench",
            "artifacts_json": json.dumps([{"title": "result", "type": "check", "summary": "ok"}]),
        }
        step["sk"] = keys.step_sk(s + 1, step["name"])
        clients.dynamodb().put_item(
            TableName=deployment.threads_table, Item={k: serializer.serialize(v) for k, v in step.items()}
        )
    running = [t for i, t in enumerate(mine) if statuses[i % len(statuses)] == "running" and i % 20 != 19]
    from threadline_tools.local import SAMPLE_BUSINESS

    for business_id in [*(f"biz-{n:03d}" for n in range(20)), "biz-delete"]:
        factory.context_store().put(orgs[0], "business", business_id, json.dumps(SAMPLE_BUSINESS), now_iso())
    return _Seeded(
        key=key,
        org=orgs[0],
        get_id=mine[0],
        agentuity_get_id=mine[1],
        delete_ids=running[-2:],
        business_id="biz-004",
        per_org=len(mine),
    )


def _requests(seeded: _Seeded, gateway: Any) -> list[_Request]:
    limit = str(max(1, min(20, seeded.per_org // 3)))  # so that a second page exists

    def first_page_cursor() -> dict[str, list[str]]:
        headers = {"Authorization": f"Bearer {seeded.key}"}
        reply = gateway.request("GET", "/v1/threads", headers, {"limit": [limit]}, None)
        cursor = reply.json().get("next_cursor")
        return {"cursor": [cursor]} if cursor else {}

    create = {"type": "cip_orchestrator", "business_id": "biz-001", "metadata": {"tier": "gold"}, "user_data": "{}"}
    from threadline_tools.local import SAMPLE_BUSINESS as business

    return [
        _Request("create thread", "POST", "/v1/threads", body=create),
        _Request("get thread (3 steps)", "GET", f"/v1/threads/{seeded.get_id}"),
        _Request("list (default)", "GET", "/v1/threads"),
        _Request("list status=running", "GET", "/v1/threads", {"status": ["running"]}),
        _Request("list business_id", "GET", "/v1/threads", {"business_id": [seeded.business_id]}),
        _Request("list metadata filter", "GET", "/v1/threads", {"metadata": ['{"tier": "gold"}']}),
        _Request("list page=5 per_page=20", "GET", "/v1/threads", {"page": ["5"], "per_page": ["20"]}),
        _Request(
            f"list cursor, page 2 (limit={limit})", "GET", "/v1/threads", {"limit": [limit]}, before=first_page_cursor
        ),
        _Request("Agentuity list", "GET", "/thread"),
        _Request("Agentuity get", "GET", f"/thread/{seeded.agentuity_get_id}"),
        _Request("delete thread", "DELETE", f"/v1/threads/{seeded.delete_ids[0]}"),
        _Request("Agentuity delete", "DELETE", f"/thread/{seeded.delete_ids[1]}"),
        _Request("put context (replace)", "PUT", f"/v1/contexts/business/{seeded.business_id}", body=business),
        _Request("get context", "GET", f"/v1/contexts/business/{seeded.business_id}"),
        _Request("delete context", "DELETE", "/v1/contexts/business/biz-delete"),
        _Request("list agents", "GET", "/v1/agents"),
    ]


def _cost(request: _Request, status: int, calls: list[Call], keys_table: str) -> RequestCost:
    for c in calls:
        if c.service == "dynamodb" and c.table == keys_table:
            c.role = "authorizer"
    route = [c for c in calls if c.service == "dynamodb" and c.role == "route"]
    authorizer = [c for c in calls if c.role == "authorizer"]
    path = request.path
    if request.query:
        path += "?" + "&".join(f"{k}={v[0]}" for k, v in request.query.items())
    return RequestCost(
        request=request.name,
        method=request.method,
        path=path,
        status=status,
        dynamodb=dict(Counter(c.operation for c in route)),
        items_read=sum(c.read for c in route),
        items_returned=sum(c.returned for c in route),
        authorizer=dict(Counter(c.operation for c in authorizer)),
        kms=dict(Counter(c.operation for c in calls if c.service == "kms")),
        stepfunctions=dict(Counter(c.operation for c in calls if c.service == "stepfunctions")),
        calls=[asdict(c) for c in calls],
    )


def _settle(deployment: Any, timeout: float = 10.0) -> None:
    """Let moto's background executions finish before the emulation goes away."""
    from threadline.store import clients

    deadline = time.monotonic() + timeout
    sfn = clients.stepfunctions()
    while time.monotonic() < deadline:
        found = sfn.list_executions(stateMachineArn=deployment.state_machine_arn)["executions"]
        if all(e["status"] != "RUNNING" for e in found):
            return
        time.sleep(0.05)


@contextmanager
def _aws_sandbox() -> Iterator[None]:
    """Fake credentials and no endpoint/profile of this machine, restored afterwards."""
    saved = dict(os.environ)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(FAKE_CREDENTIALS, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("boto3", "botocore", "aws-lambda-powertools", "pydantic", "moto"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "?"
    return found


def _ops(counts: dict[str, int]) -> str:
    return ", ".join(f"{op}x{n}" if n > 1 else op for op, n in counts.items()) or "-"


def render(report: dict[str, Any]) -> str:
    """The report as text."""
    v = report["versions"]
    lines = [
        "Threadline benchmark",
        f"python {v['python']}, boto3 {v['boto3']}, botocore {v['botocore']}, "
        f"powertools {v['aws-lambda-powertools']}, pydantic {v['pydantic']}, moto {v['moto']}",
    ]
    cold = report.get("cold_start")
    if cold:
        first = cold["first_request"]
        lines += [
            "",
            f"Cold start: handler module import in a fresh interpreter, Lambda-style sys.path "
            f"(CodeUri, layer, runtime){'' if cold['layer_pyc'] else ', layer WITHOUT .pyc'}; "
            f"median of {cold['runs']} runs, each paired with a floor run",
            f'floor = import boto3; boto3.client("dynamodb"): {cold["floor_ms"]:.0f} ms'
            + (f"   (+ one GetItem: {cold['floor_first_ms']:.0f} ms)" if first else ""),
            "",
        ]
        header = f"{'function':32} {'kind':10} {'import':>8} {'x floor':>8}"
        if first:
            header += f"  {'import + 1st request':>21} {'x floor':>8}  {'status':>6}"
        header += f"  {'clients at import':>17}"
        lines += [header, "-" * len(header)]
        for f in cold["functions"]:
            row = f"{f['function']:32} {f['kind']:10} {f['import_ms']:>5.0f} ms {f['ratio']:>7.2f}x"
            if first:
                row += f"  {f['first_ms']:>18.0f} ms {f['first_ratio']:>7.2f}x  {f['status']!s:>6}"
            row += f"  {f['clients_at_import']:>17}"
            lines.append(row)
        lines += ["", _verdict(cold["functions"])]
        if first:
            lines.append(
                "1st request: answered against a moto server on localhost (threads with user_data: KMS and "
                "cryptography are on the path); its floor is the floor plus one GetItem."
            )
    costs = report.get("dynamodb")
    if costs:
        lines += [
            "",
            f"DynamoDB per request: moto in-process, {costs['threads']} threads across {costs['orgs']} orgs, "
            "through the gateway (authorizer, then handler); counted, not timed",
            "",
        ]
        header = (
            f"{'request':32} {'status':>6}  {'DynamoDB calls (route)':24} {'items read':>10} {'returned':>8}  "
            f"{'authorizer':12} {'KMS':18} {'Step Functions':14}"
        )
        lines += [header, "-" * len(header)]
        for r in costs["requests"]:
            lines.append(
                f"{r['request']:32} {r['status']:>6}  {_ops(r['dynamodb']):24} {r['items_read']:>10} "
                f"{r['items_returned']:>8}  {_ops(r['authorizer']):12} {_ops(r['kms']):18} "
                f"{_ops(r['stepfunctions']):14}"
            )
        lines += ["", "Calls in detail (route's DynamoDB calls: index, read/returned):"]
        for r in costs["requests"]:
            details = [
                c["operation"]
                + (f"[{c['index']}]" if c["index"] else "")
                + (" COUNT" if c["select"] == "COUNT" else "")
                + (f" {c['read']}/{c['returned']}" if c["operation"] in ("Query", "Scan") else "")
                + (f" ({c['error']})" if c["error"] else "")
                for c in r["calls"]
                if c["service"] == "dynamodb" and c["role"] == "route"
            ]
            lines.append(f"  {r['request']:32} {'; '.join(details) or '-'}")
        lines += [
            "",
            "items read: Query/Scan ScannedCount (what DynamoDB evaluated, before any FilterExpression), "
            "1 per GetItem hit; returned: Count. The authorizer runs on every request here; API Gateway "
            "caches its answer per key (AuthorizerCacheSeconds). KMS with a fresh data-key cache per request.",
        ]
    return "\n".join(lines) + "\n"


def _verdict(functions: list[dict[str, Any]]) -> str:
    routes_ = [f for f in functions if f["kind"] == "route"]
    worst = max(routes_, key=lambda f: f["ratio"], default=None)
    authorizer = next((f for f in functions if f["kind"] == "authorizer"), None)
    parts = []
    if worst is not None:
        ok = "OK" if worst["ratio"] <= ROUTE_TARGET else "OVER TARGET"
        parts.append(
            f"target: route functions ≤ {ROUTE_TARGET}x floor: worst {worst['function']} {worst['ratio']:.2f}x — {ok}"
        )
    if authorizer is not None:
        parts.append(f"authorizer {authorizer['ratio']:.2f}x (target ≈ 1.0x or below)")
    clients = [f["function"] for f in functions if f["clients_at_import"]]
    parts.append(f"clients created at import: {', '.join(clients) if clients else 'none'}")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m threadline_tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per function (median); default 7")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--threads", type=int, default=200, help="threads seeded for the DynamoDB part")
    parser.add_argument("--function", action="append", help="only this function (repeatable)")
    parser.add_argument("--no-first-request", action="store_true", help="time imports only")
    parser.add_argument("--no-layer-pyc", action="store_true", help="simulate a layer shipped without .pyc files")
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--skip-dynamodb", action="store_true")
    parser.add_argument("--skip-workflow", action="store_true")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(f"… {message}", file=sys.stderr, flush=True)

    started = time.monotonic()
    report: dict[str, Any] = {"versions": _versions()}
    if args.function:
        unknown = set(args.function) - set(resources("AWS::Serverless::Function"))
        if unknown:
            parser.error(f"no such function in template.yaml: {', '.join(sorted(unknown))}")
    if not args.skip_cold_start:
        report["cold_start"] = cold_start(
            runs=args.runs,
            first_request=not args.no_first_request,
            layer_pyc=not args.no_layer_pyc,
            functions=args.function,
            progress=progress,
        )
    if not args.skip_dynamodb:
        report["dynamodb"] = dynamodb_costs(threads=args.threads, progress=progress)
    if not args.skip_workflow:
        progress("workflow: one thread per sample business")
        with _aws_sandbox(), redirect_stdout(sys.stderr):
            report["workflow"] = workflow_costs()
    report["seconds"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        sys.stdout.write(render(report))
        if "workflow" in report:
            sys.stdout.write(render_workflow(report["workflow"]))
        print(f"({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
