"""GET /thread: list threads, Agentuity dialect (limit/offset)."""

from typing import Annotated, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import query_names, resolve
from threadline.api.tenant import READ, current_tenant
from threadline.logic.list_threads import agentuity_query, list_threads
from threadline.models.agentuity import AgentuityThread, AgentuityThreadListResponse
from threadline.models.limits import MAX_PAGE_SIZE
from threadline.store.factory import thread_store

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.AGENTUITY)


@app.get("/thread", summary="List threads (Agentuity)", tags=["agentuity"], operation_id="agentuityListThreads")
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
    tenant = current_tenant(app, READ)
    wanted, window = agentuity_query(
        tenant,
        limit=limit,
        count=count,
        offset=offset,
        sort=sort,
        direction=direction,
        org_id=org_id,
        project_id=project_id,
        metadata=metadata,
    )
    result = list_threads(tenant, wanted, window, store=thread_store())
    return AgentuityThreadListResponse(data=[AgentuityThread.from_thread(t) for t in result.threads])


ALLOWED_QUERY = query_names(handle_agentuity_list_threads)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.AGENTUITY, ALLOWED_QUERY)
