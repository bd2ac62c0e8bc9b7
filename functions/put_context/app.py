"""PUT /v1/contexts/{context_type}/{context_id}: create or replace a context document."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import resolve
from threadline.api.tenant import WRITE, current_tenant
from threadline.logic.contexts import put_context
from threadline.models.contexts import ContextOut
from threadline.models.native import CONTEXT_TYPE_PATTERN, IDENTIFIER_PATTERN
from threadline.store.factory import context_store

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.NATIVE)


@app.put(
    "/v1/contexts/<context_type>/<context_id>",
    summary="Create or replace a context",
    tags=["contexts"],
    operation_id="putContext",
    responses={200: {"description": "The context was replaced."}, 201: {"description": "The context was created."}},
)
def handle_put_context(
    context_type: Annotated[str, Path(pattern=CONTEXT_TYPE_PATTERN, description="e.g. business")],
    context_id: Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="e.g. the business id")],
    document: Annotated[dict[str, Any], Body(description="Any JSON object, at most 64 KB as compact JSON.")],
) -> Response[ContextOut]:
    """Store the body as the org's context document: 201 when it is new, 200 when it replaces one
    (whose `created_at` it keeps). Threads are created on contexts that exist. A document over
    64 KB is a 413; contexts are the org's, whatever the key's project."""
    context, created = put_context(
        current_tenant(app, WRITE), context_type, context_id, document, store=context_store()
    )
    return Response(
        status_code=201 if created else 200,
        content_type="application/json",
        body=ContextOut.from_context(context),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.NATIVE)
