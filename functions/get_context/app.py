"""GET /v1/contexts/{context_type}/{context_id}: one context document."""

from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.contexts import ContextIdPath, ContextOut, ContextTypePath
from threadline.api.route import RestApp, entry
from threadline.logic.contexts import get_context

app = RestApp(NATIVE)


@app.get("/v1/contexts/<context_type>/<context_id>", summary="Retrieve a context")
def handle_get_context(context_type: ContextTypePath, context_id: ContextIdPath) -> ContextOut:
    """The org's context document; 404 when absent (or another org's)."""
    return ContextOut.from_context(
        get_context(app.tenant("read"), context_type, context_id, store=wiring.context_store())
    )


lambda_handler = entry(app)
