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
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from threadline.api.dialect import Dialect
from threadline.api.errors import register_error_handlers
from threadline.api.tenant import Scope, current_tenant
from threadline.models.domain import Tenant
from threadline.models.limits import MAX_BODY_BYTES

logger = Logger(service="threadline")
RouteFunction = TypeVar("RouteFunction", bound=Callable[..., Any])
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


_ROUTE_PARAMETERS = inspect.signature(APIGatewayRestResolver.route)


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
            return APIGatewayRestResolver.route(self, **named)(function)

        return decorator

    def tenant(self, scope: Scope) -> Tenant:
        """The calling tenant of the current request, whose key must hold ``scope`` (else 403)."""
        return current_tenant(self, scope)


def entry(app: RestApp) -> LambdaHandler:
    """The Lambda entry point of ``app``: logs with the request's correlation id, rejects what
    no route accepts, then routes."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return rejection(event, app.dialect, app.query_names) or app.resolve(_media_type_lowered(event), context)

    return lambda_handler


def _media_type_lowered(event: dict[str, Any]) -> dict[str, Any]:
    """Media types are case-insensitive; Powertools reads ``application/json`` only as written."""
    for field in ("headers", "multiValueHeaders"):
        for name, value in list((event.get(field) or {}).items()):
            if name.lower() == "content-type":
                event[field][name] = [v.lower() for v in value] if isinstance(value, list) else str(value).lower()
    return event


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
    except ValueError:
        return None  # malformed JSON: the model's validation names it
    if parsed is not None and not isinstance(parsed, dict):  # (null: "Request body is required")
        return dialect.error_reply(400, "invalid_json", "Request body must be a JSON object")
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return dialect.error_reply(400, "invalid_json", "Request body has invalid Unicode (a lone surrogate escape)")
    except RecursionError:
        return dialect.error_reply(400, "invalid_json", "Request body nests too deeply")
    return None
