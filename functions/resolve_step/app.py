"""POST /v1/threads/{id}/steps/{step_id}/resolve: a human's decision on a waiting step."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import resolve
from threadline.api.tenant import WRITE, current_tenant
from threadline.logic.resolve_step import resolve_step
from threadline.models.native import ResolveStepRequest, ThreadOut
from threadline.store.factory import step_store, thread_store, workflow_runner

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.NATIVE)


@app.post(
    "/v1/threads/<thread_id>/steps/<step_id>/resolve",
    summary="Resolve a waiting step",
    tags=["threads"],
    operation_id="resolveStep",
)
def handle_resolve_step(thread_id: str, step_id: str, request: ResolveStepRequest) -> ThreadOut:
    """Give a waiting interrupt step its decision; the workflow resumes. 409 when the step is not waiting."""
    thread = resolve_step(
        current_tenant(app, WRITE),
        thread_id,
        step_id,
        request,
        store=thread_store(),
        steps=step_store(),
        runner=workflow_runner(),
    )
    return ThreadOut.from_thread(thread)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.NATIVE)
