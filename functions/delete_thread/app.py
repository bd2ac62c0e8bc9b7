"""DELETE /v1/threads/{id}: soft delete, stopping a running workflow."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import resolve
from threadline.api.tenant import WRITE, current_tenant
from threadline.logic.delete_thread import delete_thread
from threadline.models.native import ThreadOut
from threadline.settings import settings
from threadline.store.factory import thread_store, workflow_runner

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.NATIVE)


@app.delete("/v1/threads/<thread_id>", summary="Delete a thread", tags=["threads"], operation_id="deleteThread")
def handle_delete_thread(thread_id: str) -> ThreadOut:
    """Soft-delete a thread (restorable for the retention window); a running one is cancelled."""
    thread = delete_thread(
        current_tenant(app, WRITE),
        thread_id,
        store=thread_store(),
        runner=workflow_runner(),
        retention_days=settings().retention_days,
    )
    return ThreadOut.from_thread(thread)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.NATIVE)
