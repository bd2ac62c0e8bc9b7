"""API Gateway (REST) as the local server and the tests need it: route a
request by template.yaml's routes, run the authorizer function as API Gateway
runs a REQUEST authorizer, answer with the template's gateway responses, and
invoke the route's handler in-process with a proxy event."""

from __future__ import annotations

import fnmatch
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from threadline_tools.template import authorizer_function, load_handler, resources, routes

STAGE = "api"
ACCOUNT = "123456789012"
REGION = "us-east-1"
API_ID = "local"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway REST's own limit


@dataclass
class Reply:
    """An HTTP response."""

    status: int
    headers: dict[str, str]
    body: str

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


def gateway_response(kind: str) -> Reply:
    """The template's customised gateway response of ``kind`` (e.g. UNAUTHORIZED)."""
    api = next(iter(resources("AWS::Serverless::Api").values()))["Properties"]
    configured = api["GatewayResponses"][kind]
    status = int(configured.get("StatusCode") or (500 if kind.endswith("5XX") else 400))
    return Reply(status, {"Content-Type": "application/json"}, configured["ResponseTemplates"]["application/json"])


class Gateway:
    """Serves requests the way the deployed REST API does."""

    def __init__(self, before_request: Callable[[], object] | None = None) -> None:
        self._routes = routes()
        self._authorizer = authorizer_function()
        # Run before each request: the emulation's stream delivery, so that what a request reads
        # has been indexed (in AWS the indexer runs within about a second of a write).
        self.before_request = before_request

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        query: dict[str, list[str]] | None = None,
        body: str | None = None,
    ) -> Reply:
        """Answer one HTTP request."""
        headers = dict(headers or {})
        query = query or {}
        method = method.upper()
        if self.before_request is not None:
            self.before_request()
        if body is not None and len(body.encode()) > MAX_PAYLOAD_BYTES:
            return gateway_response("REQUEST_TOO_LARGE")
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
            policy = load_handler(self._authorizer)(
                {"type": "REQUEST", "methodArn": method_arn, **event}, LambdaContext(self._authorizer)
            )
        except Exception as error:  # API Gateway: "Unauthorized" → 401, anything else → 500
            return gateway_response("UNAUTHORIZED" if str(error) == "Unauthorized" else "DEFAULT_5XX")
        if not _allows(policy, method_arn):
            return gateway_response("ACCESS_DENIED")
        event["requestContext"]["authorizer"] = {**policy.get("context", {}), "principalId": policy["principalId"]}
        result = load_handler(route.function)(event, LambdaContext(route.function))
        reply_headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            reply_headers[name] = ", ".join(values)
        return Reply(int(result["statusCode"]), reply_headers, result.get("body") or "")

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
