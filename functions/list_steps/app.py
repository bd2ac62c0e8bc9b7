"""GET /v1/threads/{id}/steps: the thread's steps, cursor-paginated."""

from typing import Annotated

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import query_names, resolve
from threadline.api.tenant import READ, current_tenant
from threadline.logic.list_steps import list_steps
from threadline.models.limits import MAX_PAGE_SIZE
from threadline.models.native import StepListOut
from threadline.store.factory import step_store, thread_store

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.NATIVE)


@app.get("/v1/threads/<thread_id>/steps", summary="List a thread's steps", tags=["threads"], operation_id="listSteps")
def handle_list_steps(
    thread_id: str,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1-100 (default 20).")] = None,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page.")] = None,
) -> StepListOut:
    """The thread's steps in the order they started, with their artifacts."""
    page, next_cursor = list_steps(
        current_tenant(app, READ), thread_id, limit or 20, cursor, store=thread_store(), steps=step_store()
    )
    return StepListOut(data=page, has_more=next_cursor is not None, next_cursor=next_cursor)


ALLOWED_QUERY = query_names(handle_list_steps)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.NATIVE, ALLOWED_QUERY)
