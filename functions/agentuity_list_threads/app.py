"""GET /thread: list threads, Agentuity dialect (limit/offset)."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from threadline import wiring
from threadline.api.agentuity import AGENTUITY
from threadline.api.agentuity.models import AgentuityThread, AgentuityThreadListResponse
from threadline.api.agentuity.query import agentuity_query
from threadline.api.route import RestApp, entry
from threadline.logic.list_threads import list_threads
from threadline.models.limits import MAX_PAGE_SIZE

app = RestApp(AGENTUITY)


@app.get("/thread", summary="List threads (Agentuity)")
def handle_agentuity_list_threads(
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Max results, default 10.")] = None,
    count: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Old alias of limit.")] = None,
    offset: Annotated[int, Query(ge=0, le=10000)] = 0,
    sort: Annotated[Literal["created", "updated"], Query()] = "created",
    direction: Annotated[Literal["asc", "desc"], Query()] = "desc",
    org_id: Annotated[str | None, Query(alias="orgId", max_length=128)] = None,
    project_id: Annotated[str | None, Query(alias="projectId", max_length=128)] = None,
    metadata: Annotated[str | None, Query(max_length=8192, description="JSON-serialized metadata filter.")] = None,
) -> AgentuityThreadListResponse:
    """``{"success": true, "data": [thread, ...]}``, newest first by default."""
    query = dict(locals())  # the parameters above: declared once, for validation and OpenAPI
    tenant = app.tenant("read")
    wanted, window = agentuity_query(tenant, **query)
    result = list_threads(tenant, wanted, window, store=wiring.thread_store())
    return AgentuityThreadListResponse(data=[AgentuityThread.from_thread(t) for t in result.threads])


lambda_handler = entry(app)
