"""GET /v1/contexts/{context_type}/{context_id}: one context document."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.contexts import ContextOut
from threadline.api.route import entry, rest_app
from threadline.api.tenant import READ, current_tenant
from threadline.logic.contexts import get_context

app = rest_app(NATIVE)


@app.get(
    "/v1/contexts/<context_type>/<context_id>",
    summary="Retrieve a context",
    tags=["contexts"],
    operation_id="getContext",
)
def handle_get_context(
    context_type: Annotated[str, Path(description="e.g. business")],
    context_id: Annotated[str, Path(description="e.g. the business id")],
) -> ContextOut:
    """The org's context document; 404 when absent (or another org's)."""
    return ContextOut.from_context(
        get_context(current_tenant(app, READ), context_type, context_id, store=wiring.context_store())
    )


lambda_handler = entry(app)
