"""The calling tenant, as the authorizer resolved it from the API key."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from threadline.errors import ForbiddenError, UnauthorizedError
from threadline.models.domain import Tenant

Scope = Literal["read", "write"]


def current_tenant(app: APIGatewayRestResolver, scope: Scope) -> Tenant:
    """The tenant of the current request, which must hold ``scope``.

    API Gateway only invokes a route after the authorizer allowed it, so a
    missing context is a deployment error, answered as 401 all the same.
    """
    context = app.current_event.request_context.authorizer.raw_event or {}
    org_id = context.get("org_id")
    key_id = context.get("key_id")
    if not org_id or not key_id:
        raise UnauthorizedError("Missing or invalid API key")
    tenant = Tenant(
        org_id=org_id,
        project_id=context.get("project_id") or None,
        scopes=frozenset(filter(None, str(context.get("scopes", "")).split(","))),
        key_id=key_id,
        key_name=context.get("key_name", ""),
    )
    if scope not in tenant.scopes:
        raise ForbiddenError(f"This API key lacks the '{scope}' scope")
    return tenant
