"""GET /v1/threads/{id}/steps: the thread's steps, cursor-paginated."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import StepListOut
from threadline.api.route import RestApp, entry
from threadline.logic.list_steps import list_steps
from threadline.models.limits import MAX_PAGE_SIZE

app = RestApp(NATIVE)


@app.get("/v1/threads/<thread_id>/steps", summary="List a thread's steps")
def handle_list_steps(
    thread_id: str,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1-100 (default 20).")] = None,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page.")] = None,
) -> StepListOut:
    """The thread's steps in the order they started, with their artifacts."""
    page, next_cursor = list_steps(
        app.tenant("read"),
        thread_id,
        limit or 20,
        cursor,
        store=wiring.thread_store(),
        steps=wiring.step_store(),
    )
    return StepListOut(data=page, has_more=next_cursor is not None, next_cursor=next_cursor)


lambda_handler = entry(app)
