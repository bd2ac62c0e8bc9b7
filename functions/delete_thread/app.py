"""DELETE /v1/threads/{id}: soft delete, stopping a running workflow."""

from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import ThreadOut
from threadline.api.route import RestApp, entry
from threadline.logic.delete_thread import delete_thread

app = RestApp(NATIVE)


@app.delete("/v1/threads/<thread_id>", summary="Delete a thread")
def handle_delete_thread(thread_id: str) -> ThreadOut:
    """Soft-delete a thread (restorable for the retention window); a running one is cancelled."""
    thread = delete_thread(app.tenant("write"), thread_id, store=wiring.thread_store(), runner=wiring.workflow_runner())
    return ThreadOut.from_thread(thread)


lambda_handler = entry(app)
