"""The REQUEST authorizer: Bearer API key → tenant (org, project, scopes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadline import observability, wiring
from threadline.auth.authorizer import authorize

if TYPE_CHECKING:  # Powertools is not imported at run time: ~50 ms of this function's cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext


@observability.traced  # (its tracer is made at its first traced invocation: none, untraced)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(event, wiring.api_key_store(), shared_usage_key=wiring.shared_usage_key())
