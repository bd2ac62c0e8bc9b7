"""PUT /v1/contexts/{context_type}/{context_id}: create or replace a context document."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.contexts import ContextOut
from threadline.api.route import entry, rest_app
from threadline.api.tenant import WRITE, current_tenant
from threadline.logic.contexts import put_context
from threadline.models.domain import CONTEXT_TYPE_PATTERN, IDENTIFIER_PATTERN

app = rest_app(NATIVE)


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
        current_tenant(app, WRITE), context_type, context_id, document, store=wiring.context_store()
    )
    return Response(
        status_code=201 if created else 200,
        content_type="application/json",
        body=ContextOut.from_context(context),
    )


lambda_handler = entry(app)
