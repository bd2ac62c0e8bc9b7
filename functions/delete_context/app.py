"""DELETE /v1/contexts/{context_type}/{context_id}: delete a context document."""

from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.contexts import ContextIdPath, ContextTypePath, DeletedContextOut
from threadline.api.route import RestApp, entry
from threadline.logic.contexts import delete_context

app = RestApp(NATIVE)


@app.delete("/v1/contexts/<context_type>/<context_id>", summary="Delete a context")
def handle_delete_context(context_type: ContextTypePath, context_id: ContextIdPath) -> DeletedContextOut:
    """Delete the org's context document for good: 200 with it as it was and `deleted: true`;
    404 when absent (so a second delete is 404). Threads already created on it keep running."""
    gone = delete_context(app.tenant("write"), context_type, context_id, store=wiring.context_store())
    return DeletedContextOut.from_context(gone)


lambda_handler = entry(app)
