"""The route scaffold: a dialect's resolver with its error handlers, and the Lambda entry point
around it. A handler module is its imports, its route function and one line of entry::

    app = RestApp(NATIVE)

    @app.get("/v1/threads/<thread_id>", ...)
    def handle_get_thread(thread_id: str) -> ThreadOut: ...

    lambda_handler = entry(app)

Before routing, the entry point rejects what no route accepts (oversized bodies, unknown or
repeated query parameters), in the dialect's error shape: the query parameters a route accepts
are those its function declares with ``Query``.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.constants import DEFAULT_OPENAPI_RESPONSE_DESCRIPTION
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from threadline import observability
from threadline.api.dialect import Dialect
from threadline.api.errors import register_error_handlers
from threadline.api.tenant import Scope, current_tenant
from threadline.models.domain import Tenant
from threadline.models.limits import MAX_BODY_BYTES, MAX_BODY_DEPTH, nesting_depth

if TYPE_CHECKING:  # imported by the routes that use it only (wiring.idempotent_replies)
    from threadline.api.idempotency import IdempotentReplies

logger = Logger(service="threadline")
RouteFunction = TypeVar("RouteFunction", bound=Callable[..., Any])
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


_ROUTE_PARAMETERS = inspect.signature(APIGatewayRestResolver.route)

# A creating route's entry honours this header (``api.idempotency``); the route declares it (and
# the statuses it adds) for its OpenAPI operation.
IDEMPOTENCY_HEADER = "Idempotency-Key"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        description="1-255 printable ASCII characters. For 24 hours the same key and request answer the first"
        " response again (with Idempotent-Replayed: true); the same key with another request is a 422, and"
        " while the first request still runs, a 409 with Retry-After.",
    ),
]
IDEMPOTENT_RESPONSES: dict[int, OpenAPIResponse] = {
    409: {"description": "A request with this Idempotency-Key is still in progress (Retry-After)."},
    422: {"description": "This Idempotency-Key was used with another request."},
}


class RestApp(APIGatewayRestResolver):
    """A REST resolver of one dialect, validating requests, that knows its routes' query
    parameters (a handler module has one route: they are that route's). A route's OpenAPI
    operation id defaults to its function's name (``handle_get_thread`` → ``getThread``),
    its tag to the dialect's."""

    def __init__(self, dialect: Dialect) -> None:
        super().__init__(enable_validation=True)
        self.dialect = dialect
        self.query_names: frozenset[str] = frozenset()
        register_error_handlers(self, dialect)

    def route(self, *args: Any, **kwargs: Any) -> Callable[[RouteFunction], RouteFunction]:
        # Powertools' get/post/... pass every parameter positionally: bind them by name.
        bound = _ROUTE_PARAMETERS.bind(self, *args, **kwargs)

        def decorator(function: RouteFunction) -> RouteFunction:
            self.query_names |= query_names(function)
            given = bound.arguments  # every parameter of route() but self may be given by name
            named = {name: value for name, value in given.items() if name != "self"}
            named["operation_id"] = given.get("operation_id") or operation_id(function.__name__)
            named["tags"] = given.get("tags") or [self.dialect.tag_of(given["rule"])]
            named["responses"] = with_success(
                given.get("responses"), given.get("status_code") or 200, given.get("response_description")
            )
            return APIGatewayRestResolver.route(self, **named)(function)

        return decorator

    # Powertools keeps the current event on its router class, shared by every app of the process:
    # fine for Lambda (one invocation per process), not for a process serving requests on threads
    # (the local server, the tests). Each app keeps its own (an app serves one request at a time).
    @property
    def current_event(self) -> Any:
        return self._current_event

    @current_event.setter
    def current_event(self, event: Any) -> None:
        self._current_event = event

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        self._current_event = self._to_proxy_event(typing.cast(dict[str, Any], event))
        return super().resolve(event, context)

    def tenant(self, scope: Scope) -> Tenant:
        """The calling tenant of the current request, whose key must hold ``scope`` (else 403)."""
        return current_tenant(self, scope)


def entry(app: RestApp, idempotency: Callable[[], IdempotentReplies] | None = None) -> LambdaHandler:
    """The Lambda entry point of ``app``: logs and traces with the request's correlation id (API
    Gateway's request id), rejects what no route accepts, then routes; a creating route passes
    ``idempotency`` (its factory), and honours ``Idempotency-Key`` (``api.idempotency``)."""

    @observability.traced
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        observability.correlate(logger.get_correlation_id())
        rejected = rejection(event, app.dialect, app.query_names)
        if rejected:
            return rejected

        def resolve() -> dict[str, Any]:
            return app.resolve(_media_type_lowered(event), context)

        return idempotency().answer(event, context, app.dialect, resolve) if idempotency else resolve()

    return lambda_handler


def _media_type_lowered(event: dict[str, Any]) -> dict[str, Any]:
    """Media types are case-insensitive; Powertools reads ``application/json`` only as written."""
    for field in ("headers", "multiValueHeaders"):
        for name, value in list((event.get(field) or {}).items()):
            if name.lower() == "content-type":
                event[field][name] = [v.lower() for v in value] if isinstance(value, list) else str(value).lower()
    return event


def with_success(
    responses: dict[int, OpenAPIResponse] | None, status_code: int, description: str | None
) -> dict[int, OpenAPIResponse] | None:
    """A route's declared ``responses`` with its success response. Powertools documents only the
    declared responses when there are any: a route that declares just its errors (``{409: ...}``)
    keeps its success response, whose schema Powertools takes from the return annotation."""
    if not responses or any(200 <= int(status) < 300 for status in responses):
        return responses
    return {status_code: {"description": description or DEFAULT_OPENAPI_RESPONSE_DESCRIPTION}, **responses}


def operation_id(function_name: str) -> str:
    """``handle_agentuity_get_thread`` → ``agentuityGetThread``."""
    first, *rest = function_name.removeprefix("handle_").split("_")
    return first + "".join(word.title() for word in rest)


def query_names(handler: Callable[..., Any]) -> frozenset[str]:
    """The query parameters ``handler`` declares (aliases included)."""
    names = set()
    for name, hint in typing.get_type_hints(handler, include_extras=True).items():
        for extra in getattr(hint, "__metadata__", ()):
            if isinstance(extra, Query):
                names.add(extra.alias or name)
    return frozenset(names)


def rejection(event: dict[str, Any], dialect: Dialect, allowed_query: frozenset[str]) -> dict[str, Any] | None:
    """The error response for a request no route accepts, before validation reads it; else None."""
    body = event.get("body") or ""
    # Bytes, not characters: a body of multi-byte characters is larger than its length.
    if len(body.encode()) > MAX_BODY_BYTES * (4 / 3 if event.get("isBase64Encoded") else 1):
        return dialect.error_reply(413, "payload_too_large", f"Request body must be at most {MAX_BODY_BYTES} bytes")
    for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
        if name not in allowed_query:
            return dialect.error_reply(400, "invalid_parameter", f"{name} is not a known query parameter", name)
        if len(values or []) > 1:
            return dialect.error_reply(400, "invalid_parameter", f"{name} may be given only once", name)
    for name in event.get("queryStringParameters") or {}:
        if name not in allowed_query:
            return dialect.error_reply(400, "invalid_parameter", f"{name} is not a known query parameter", name)
    return _body_rejection(event, body, dialect) if body else None


def _body_rejection(event: dict[str, Any], body: str, dialect: Dialect) -> dict[str, Any] | None:
    """A body that is not one JSON object of valid Unicode, before the model reads it (which
    would take an array's first element, recurse past Python's limit, or store a lone surrogate)."""
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items() if isinstance(value, str)}
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return dialect.error_reply(
            415, "unsupported_media_type", "Request bodies are JSON: send Content-Type: application/json"
        )
    if event.get("isBase64Encoded"):
        return None  # not sent by API Gateway without binary media types; the model rejects it
    try:
        parsed = json.loads(body)
    except RecursionError:
        return dialect.error_reply(400, "invalid_json", "Request body nests too deeply")
    except ValueError:  # (on every route: one that takes no body would ignore it)
        return dialect.error_reply(400, "invalid_json", "Request body is not valid JSON")
    if parsed is not None and not isinstance(parsed, dict):  # (null: "Request body is required")
        return dialect.error_reply(400, "invalid_json", "Request body must be a JSON object")
    # Parsed again deeper in the stack (Powertools, pydantic, json.dumps): bounded here, where it is safe.
    if nesting_depth(parsed) > MAX_BODY_DEPTH:
        return dialect.error_reply(400, "invalid_json", "Request body nests too deeply")
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return dialect.error_reply(400, "invalid_json", "Request body has invalid Unicode (a lone surrogate escape)")
    return None
