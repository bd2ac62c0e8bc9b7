"""POST /v1/threads: create a thread and start its workflow."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import resolve
from threadline.api.tenant import WRITE, current_tenant
from threadline.logic.create_thread import create_thread
from threadline.models.native import CreateThreadRequest, ThreadOut
from threadline.store.factory import context_store, thread_store, workflow_runner

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.NATIVE)


@app.post("/v1/threads", status_code=201, summary="Create a thread", tags=["threads"], operation_id="createThread")
def handle_create_thread(request: CreateThreadRequest) -> ThreadOut:
    """Create a thread of an agent type on a context; its workflow starts at once.
    The context must exist (`PUT /v1/contexts/...`): else 404 naming `business_id` or `context_id`."""
    thread = create_thread(
        current_tenant(app, WRITE), request, store=thread_store(), runner=workflow_runner(), contexts=context_store()
    )
    return ThreadOut.from_thread(thread)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.NATIVE)
