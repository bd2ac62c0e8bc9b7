"""PUT /v1/contexts/{context_type}/{context_id}: create or replace a context document."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.contexts import ContextOut, NewContextIdPath, NewContextTypePath
from threadline.api.route import IDEMPOTENT_RESPONSES, IdempotencyKey, RestApp, entry
from threadline.logic.contexts import put_context

app = RestApp(NATIVE)


@app.put(
    "/v1/contexts/<context_type>/<context_id>",
    summary="Create or replace a context",
    responses={
        200: {"description": "The context was replaced."},
        201: {"description": "The context was created."},
        **IDEMPOTENT_RESPONSES,
    },
)
def handle_put_context(
    context_type: NewContextTypePath,
    context_id: NewContextIdPath,
    document: Annotated[dict[str, Any], Body(description="Any JSON object, at most 64 KB as compact JSON.")],
    idempotency_key: IdempotencyKey = None,  # honoured by the entry point, before this runs
) -> Response[ContextOut]:
    """Store the body as the org's context document: 201 when it is new, 200 when it replaces one
    (whose `created_at` it keeps). Threads are created on contexts that exist. A document over
    64 KB is a 413; contexts are the org's, whatever the key's project."""
    context, created = put_context(
        app.tenant("write"), context_type, context_id, document, store=wiring.context_store()
    )
    return Response(
        status_code=201 if created else 200,
        content_type="application/json",
        body=ContextOut.from_context(context),
    )


lambda_handler = entry(app, idempotency=wiring.idempotent_replies)
