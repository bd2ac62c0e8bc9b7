"""DELETE /v1/contexts/{context_type}/{context_id}: delete a context document."""

from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import resolve
from threadline.api.tenant import WRITE, current_tenant
from threadline.logic.contexts import delete_context
from threadline.models.contexts import DeletedContextOut
from threadline.store.factory import context_store

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.NATIVE)


@app.delete(
    "/v1/contexts/<context_type>/<context_id>",
    summary="Delete a context",
    tags=["contexts"],
    operation_id="deleteContext",
)
def handle_delete_context(
    context_type: Annotated[str, Path(description="e.g. business")],
    context_id: Annotated[str, Path(description="e.g. the business id")],
) -> DeletedContextOut:
    """Delete the org's context document for good: 200 with it as it was and `deleted: true`;
    404 when absent (so a second delete is 404). Threads already created on it keep running."""
    gone = delete_context(current_tenant(app, WRITE), context_type, context_id, store=context_store())
    return DeletedContextOut.from_context(gone)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.NATIVE)
