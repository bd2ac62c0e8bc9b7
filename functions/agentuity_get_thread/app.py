"""GET /thread/{id}: one thread, Agentuity dialect."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import resolve
from threadline.api.tenant import READ, current_tenant
from threadline.logic.get_thread import get_thread
from threadline.models.agentuity import AgentuityThread, AgentuityThreadResponse
from threadline.store.factory import thread_store

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.AGENTUITY)


@app.get(
    "/thread/<thread_id>", summary="Get a thread (Agentuity)", tags=["agentuity"], operation_id="agentuityGetThread"
)
def handle_agentuity_get_thread(thread_id: str) -> AgentuityThreadResponse:
    """``{"success": true, "data": thread}``; 404 when absent, deleted or another tenant's."""
    thread = get_thread(current_tenant(app, READ), thread_id, store=thread_store())
    return AgentuityThreadResponse(data=AgentuityThread.from_thread(thread))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.AGENTUITY)
