"""API Gateway (REST) as the local server and the tests need it: route a
request by template.yaml's routes, run the authorizer function as API Gateway
runs a REQUEST authorizer, answer with the template's gateway responses, and
invoke the route's handler in-process with a proxy event.

Paths are taken as sent (percent-encoded) and decoded as API Gateway decodes them: routed by
their ``/``-separated segments, then each segment percent-decoded, except an encoded slash
(``%2F``), which stays in its path parameter as sent (``/v1/threads/%61bc`` → ``thread_id``
``abc``; ``/v1/threads/a%2Fb`` → ``a%2Fb``, still the one-segment route).

Functions run as Lambda runs them: each invocation borrows an execution environment of its
function (its own import of the handler module) that serves nobody else until it returns, and a
new one is started when every environment of the function is busy (a cold start). So concurrent
requests run their handlers in parallel without sharing a module's state (Powertools keeps the
current event on the module's resolver), as two concurrent invocations never share a Lambda
environment. What the modules share is the layer, imported once per process (on Lambda, once per
environment): its caches are safe to share (``threadline.wiring``'s factories at worst build an
object twice, ``threadline.clients`` builds clients under a lock, the cipher guards its key caches).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any
from urllib.parse import unquote

from threadline_tools.template import authorizer_function, function_code, resources, routes

STAGE = "api"
ACCOUNT = "123456789012"
REGION = "us-east-1"
API_ID = "local"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway REST's own limit

# The function whose handler runs on this thread now (None outside an invocation): an AWS call made
# meanwhile is that function's, as its role signs it on AWS (threadline_tools.permissions records
# calls by it). Threads a handler's call starts elsewhere (moto's executions) do not inherit it.
INVOKED: ContextVar[str | None] = ContextVar("threadline_invoked_function", default=None)


@dataclass
class Reply:
    """An HTTP response."""

    status: int
    headers: dict[str, str]
    body: str
    # Route handlers running when this one started, itself included (0: no handler ran). The
    # local server logs it: more than 1 is proof that requests were served in parallel.
    concurrency: int = 0

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


@dataclass
class LambdaContext:
    """The parts of Lambda's context object the handlers read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


class Environments:
    """Lambda's execution environments, per function: an invocation borrows an idle one or, when
    all are busy, starts one (a cold start: the handler module executed afresh); it serves one
    invocation at a time. A function's code is read once, by its first environment, and every
    later one runs that same code, as every environment of a deployment does (a handler edited on
    disk meanwhile is not half-deployed: restart to deploy it)."""

    def __init__(self) -> None:
        self._idle: dict[str, list[ModuleType]] = {}
        self._code: dict[str, tuple[Path, CodeType]] = {}
        self._started: dict[str, int] = {}
        self._lock = threading.Lock()

    def prepare(self, logical_id: str) -> None:
        """Read ``logical_id``'s code and start its first environment, unless done already (so a
        handler that fails to import fails here)."""
        with self._borrowed(logical_id):
            pass

    def invoke(self, logical_id: str, event: dict[str, Any], context: Any) -> Any:
        """Run ``logical_id``'s handler on ``event`` in an environment of its own."""
        with self._borrowed(logical_id) as module:
            handler = getattr(module, function_code(logical_id)[1].rpartition(".")[2])
            invoked = INVOKED.set(logical_id)
            try:
                return handler(event, context)
            finally:
                INVOKED.reset(invoked)

    @contextmanager
    def _borrowed(self, logical_id: str) -> Iterator[ModuleType]:
        with self._lock:
            idle = self._idle.setdefault(logical_id, [])
            module = idle.pop() if idle else None
            if module is None:
                if logical_id not in self._code:
                    self._code[logical_id] = _compiled(logical_id)
                path, code = self._code[logical_id]
                number = self._started[logical_id] = self._started.get(logical_id, 0) + 1
        if module is None:
            module = _environment(logical_id, number, path, code)
        try:
            yield module
        finally:
            with self._lock:
                idle.append(module)


def _compiled(logical_id: str) -> tuple[Path, CodeType]:
    code_uri, handler = function_code(logical_id)
    path = code_uri / f"{handler.rpartition('.')[0]}.py"
    return path, compile(path.read_bytes(), str(path), "exec", dont_inherit=True)


def _environment(logical_id: str, number: int, path: Path, code: CodeType) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"threadline_function_{logical_id}_{number}", path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(code, module.__dict__)  # the handler module's own code, as an import runs it
    return module


# Every in-process invocation of the emulation (the gateway's, the state machine's Lambda tasks, the
# stream and queue mappings', the execution ends handed to the reconciler) borrows from these, as
# every invocation of a deployed function runs in one of its environments.
ENVIRONMENTS = Environments()


def decode_path(path: str) -> str | None:
    """A request path as API Gateway decodes it: each segment percent-decoded (UTF-8), except an
    encoded ``/`` (``%2F``), which stays as sent, within its segment. None when a segment does
    not decode (invalid UTF-8)."""
    segments = []
    for segment in path.split("/"):
        kept = segment.replace("%2F", "%252F").replace("%2f", "%252f")  # unquote turns %25 into %
        try:
            segments.append(unquote(kept, errors="strict"))
        except UnicodeDecodeError:
            return None
    return "/".join(segments)


def gateway_response(kind: str) -> Reply:
    """The template's customised gateway response of ``kind`` (e.g. UNAUTHORIZED), with its
    static headers (``ResponseParameters.Headers``, values quoted as API Gateway wants them)."""
    api = next(iter(resources("AWS::Serverless::Api").values()))["Properties"]
    configured = api["GatewayResponses"][kind]
    status = int(configured.get("StatusCode") or (500 if kind.endswith("5XX") else 400))
    headers = {"Content-Type": "application/json"}
    for name, value in configured.get("ResponseParameters", {}).get("Headers", {}).items():
        headers[name] = str(value).strip("'")
    return Reply(status, headers, configured["ResponseTemplates"]["application/json"])


class Gateway:
    """Serves requests the way the deployed REST API does."""

    def __init__(self, before_request: Callable[[], object] | None = None) -> None:
        self._routes = routes()
        self._authorizer = authorizer_function()
        # Run before a route's handler (once the request is routed and authorized): the emulation's
        # stream delivery, so that what the handler reads has been indexed (in AWS the indexer runs
        # within about a second of a write). Only for these methods, when given (the local server:
        # reads; a write waits for no stream delivery on AWS).
        self.before_request = before_request
        self.before_request_methods: frozenset[str] | None = None
        self.before_request_skips: frozenset[str] = frozenset()  # functions that need no before_request
        self._running = 0  # route handlers running now
        self._count = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        query: dict[str, list[str]] | None = None,
        body: str | None = None,
    ) -> Reply:
        """Answer one HTTP request; ``path`` as sent (percent-encoded), without the stage."""
        headers = dict(headers or {})
        query = query or {}
        method = method.upper()
        if body is not None and len(body.encode()) > MAX_PAYLOAD_BYTES:
            return gateway_response("REQUEST_TOO_LARGE")
        decoded = decode_path(path)
        if decoded is None:
            return gateway_response("DEFAULT_4XX")
        path = decoded
        matched = self._match(method, path)
        if matched is None:
            return gateway_response("MISSING_AUTHENTICATION_TOKEN")
        route, params = matched
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}"
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if not authorization:
            return gateway_response("UNAUTHORIZED")
        event = self._event(method, path, route.path, headers, query, body, params)
        try:
            policy = ENVIRONMENTS.invoke(
                self._authorizer,
                {"type": "REQUEST", "methodArn": method_arn, **event},
                LambdaContext(self._authorizer),
            )
        except Exception as error:  # API Gateway: "Unauthorized" → 401, anything else a configuration error
            failed = "UNAUTHORIZED" if str(error) == "Unauthorized" else "AUTHORIZER_CONFIGURATION_ERROR"
            return gateway_response(failed)
        if not _allows(policy, method_arn):
            return gateway_response("ACCESS_DENIED")
        event["requestContext"]["authorizer"] = {**policy.get("context", {}), "principalId": policy["principalId"]}
        wanted = method in (self.before_request_methods or {method}) and route.function not in self.before_request_skips
        if self.before_request is not None and wanted:
            self.before_request()
        with self._counted() as concurrency:
            result = ENVIRONMENTS.invoke(route.function, event, LambdaContext(route.function))
        reply_headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            reply_headers[name] = ", ".join(values)
        return Reply(int(result["statusCode"]), reply_headers, result.get("body") or "", concurrency)

    @contextmanager
    def _counted(self) -> Iterator[int]:
        with self._count:
            self._running += 1
            running = self._running
        try:
            yield running
        finally:
            with self._count:
                self._running -= 1

    def _match(self, method: str, path: str) -> tuple[Any, dict[str, str]] | None:
        # An explicit method wins over ANY on the same path, as in API Gateway.
        for wanted in (method, "ANY"):
            for route in self._routes:
                if route.method == wanted:
                    params = route.matches(path)
                    if params is not None:
                        return route, params
        return None

    @staticmethod
    def _event(
        method: str,
        path: str,
        resource: str,
        headers: dict[str, str],
        query: dict[str, list[str]],
        body: str | None,
        params: dict[str, str],
    ) -> dict[str, Any]:
        return {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": dict(query) or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": API_ID,
                "stage": STAGE,
                "resourcePath": resource,
                "httpMethod": method,
                "path": f"/{STAGE}{path}",
                "requestId": str(uuid.uuid4()),
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": body,
            "isBase64Encoded": False,
        }


def _allows(policy: dict[str, Any], method_arn: str) -> bool:
    allowed = False
    for statement in policy.get("policyDocument", {}).get("Statement", []):
        targets = statement.get("Resource", [])
        targets = [targets] if isinstance(targets, str) else targets
        if any(fnmatch.fnmatchcase(method_arn, target) for target in targets):
            if statement.get("Effect") == "Deny":
                return False
            allowed = True
    return allowed
