"""Checks every request passes before routing, and the Lambda entry point around the resolver."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from threadline.api.errors import Dialect, error_response
from threadline.models.limits import MAX_BODY_BYTES


def query_names(handler: Callable[..., Any]) -> frozenset[str]:
    """The query parameters ``handler`` declares (aliases included)."""
    names = set()
    for name, hint in typing.get_type_hints(handler, include_extras=True).items():
        for extra in getattr(hint, "__metadata__", ()):
            if isinstance(extra, Query):
                names.add(extra.alias or name)
    return frozenset(names)


def resolve(
    app: APIGatewayRestResolver,
    event: dict[str, Any],
    context: LambdaContext,
    dialect: Dialect,
    allowed_query: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Reject what no route accepts (oversized bodies, unknown or repeated
    query parameters) before validation reads it, then route the request."""
    body = event.get("body") or ""
    # Bytes, not characters: a body of multi-byte characters is larger than its length.
    if len(body.encode()) > MAX_BODY_BYTES * (4 / 3 if event.get("isBase64Encoded") else 1):
        return _reply(dialect, 413, "payload_too_large", f"Request body must be at most {MAX_BODY_BYTES} bytes", None)
    for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
        if name not in allowed_query:
            return _reply(dialect, 400, "invalid_parameter", f"{name} is not a known query parameter", name)
        if len(values or []) > 1:
            return _reply(dialect, 400, "invalid_parameter", f"{name} may be given only once", name)
    for name in event.get("queryStringParameters") or {}:
        if name not in allowed_query:
            return _reply(dialect, 400, "invalid_parameter", f"{name} is not a known query parameter", name)
    return app.resolve(event, context)


def _reply(dialect: Dialect, status: int, code: str, message: str, parameter: str | None) -> dict[str, Any]:
    response = error_response(dialect, status, code, message, parameter)
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": "application/json"},
        "body": response.body,
        "isBase64Encoded": False,
    }
