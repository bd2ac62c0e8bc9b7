"""GET /v1/contexts/{context_type}/{context_id}: one context document."""

from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import resolve
from threadline.api.tenant import READ, current_tenant
from threadline.logic.contexts import get_context
from threadline.models.contexts import ContextOut
from threadline.store.factory import context_store

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.NATIVE)


@app.get(
    "/v1/contexts/<context_type>/<context_id>",
    summary="Retrieve a context",
    tags=["contexts"],
    operation_id="getContext",
)
def handle_get_context(
    context_type: Annotated[str, Path(description="e.g. business")],
    context_id: Annotated[str, Path(description="e.g. the business id")],
) -> ContextOut:
    """The org's context document; 404 when absent (or another org's)."""
    return ContextOut.from_context(
        get_context(current_tenant(app, READ), context_type, context_id, store=context_store())
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.NATIVE)
