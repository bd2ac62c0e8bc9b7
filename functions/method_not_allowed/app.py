"""ANY on a known path whose method has no route: 405 with an Allow header, from the route table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadline.api.routes import allowed_methods, dialect_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    resource = event.get("resource", "")
    allowed = ", ".join(allowed_methods(resource))
    message = f"{event.get('httpMethod')} is not allowed on {resource}; use {allowed}"
    return dialect_of(resource).error_reply(405, "method_not_allowed", message, headers={"Allow": allowed})
