"""GET /v1/threads: list threads, page/per_page or limit/cursor, with filters."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import ThreadListOut, ThreadSummaryOut
from threadline.api.native.query import native_query
from threadline.api.route import RestApp, entry
from threadline.logic.list_threads import list_threads
from threadline.models.domain import ThreadStatus
from threadline.models.limits import MAX_PAGE_SIZE

app = RestApp(NATIVE)


@app.get("/v1/threads", summary="List threads")
def handle_list_threads(
    page: Annotated[int | None, Query(ge=1, le=1000, description="Page number (with per_page).")] = None,
    per_page: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1-100 (default 10).")] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size for cursor paging.")] = None,
    cursor: Annotated[str | None, Query(max_length=4096, description="next_cursor of the previous page.")] = None,
    business_id: Annotated[str | None, Query(max_length=128)] = None,
    context_type: Annotated[str | None, Query(max_length=64)] = None,
    context_id: Annotated[str | None, Query(max_length=128)] = None,
    agent_type: Annotated[str | None, Query(alias="type", max_length=128)] = None,
    status: Annotated[ThreadStatus | None, Query()] = None,
    project_id: Annotated[str | None, Query(max_length=128)] = None,
    metadata: Annotated[
        str | None,
        Query(
            max_length=8192,
            description='JSON object: every pair contained (nested too); one key may be {"$in": [≤ 10 values]}.',
        ),
    ] = None,
    include_deleted: Annotated[bool, Query()] = False,
    sort: Annotated[Literal["created_at", "updated_at"], Query()] = "created_at",
    direction: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> ThreadListOut:
    """Threads of the caller's org, newest first by default: one keys-only index walked, the page read by key."""
    query = dict(locals())  # the parameters above: declared once, for validation and OpenAPI
    tenant = app.tenant("read")
    wanted, window = native_query(tenant, **query)
    result = list_threads(tenant, wanted, window, store=wiring.thread_store())
    return ThreadListOut(
        data=[ThreadSummaryOut.from_thread(t) for t in result.threads],
        has_more=result.has_more,
        total_count=result.total_count,
        next_cursor=result.next_cursor,
    )


lambda_handler = entry(app)
