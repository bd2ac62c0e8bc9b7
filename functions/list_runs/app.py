"""GET /v1/runs: list runs, page/per_page or limit/cursor, with filters."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import RunListOut, RunSummaryOut
from threadline.api.native.query import native_run_query
from threadline.api.route import RestApp, entry
from threadline.logic.runs import list_runs
from threadline.models.domain import RunStatus
from threadline.models.limits import MAX_PAGE_SIZE

app = RestApp(NATIVE)


@app.get("/v1/runs", summary="List runs")
def handle_list_runs(
    page: Annotated[int | None, Query(ge=1, le=1000, description="Page number (with per_page).")] = None,
    per_page: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1-100 (default 10).")] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size for cursor paging.")] = None,
    cursor: Annotated[str | None, Query(max_length=4096, description="next_cursor of the previous page.")] = None,
    thread_id: Annotated[str | None, Query(max_length=128, description="The runs of this thread only.")] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    agent: Annotated[str | None, Query(max_length=128, description="The agent type the runs run.")] = None,
    sort: Annotated[Literal["created_at", "updated_at"], Query()] = "created_at",
    direction: Annotated[Literal["asc", "desc"], Query()] = "desc",
) -> RunListOut:
    """Runs of the caller's org (or of one of its threads), newest first by default, without their steps."""
    query = dict(locals())  # the parameters above: declared once, for validation and OpenAPI
    tenant = app.tenant("read")
    wanted, window = native_run_query(tenant, **query)
    result = list_runs(tenant, wanted, window, store=wiring.thread_store(), runs=wiring.run_store())
    return RunListOut(
        data=[RunSummaryOut.from_run(run) for run in result.runs],
        has_more=result.has_more,
        total_count=result.total_count,
        next_cursor=result.next_cursor,
    )


lambda_handler = entry(app)
