"""POST /v1/threads/{id}/cancel: stop the thread's workflow."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import resolve
from threadline.api.tenant import WRITE, current_tenant
from threadline.logic.cancel_thread import cancel_thread
from threadline.models.native import ThreadOut
from threadline.store.factory import step_store, thread_store, workflow_runner

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.NATIVE)


@app.post("/v1/threads/<thread_id>/cancel", summary="Cancel a thread", tags=["threads"], operation_id="cancelThread")
def handle_cancel_thread(thread_id: str) -> ThreadOut:
    """Stop a running or interrupted thread's workflow; 409 when it has already finished."""
    thread = cancel_thread(
        current_tenant(app, WRITE), thread_id, store=thread_store(), steps=step_store(), runner=workflow_runner()
    )
    return ThreadOut.from_thread(thread)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.NATIVE)
