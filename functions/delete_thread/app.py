"""DELETE /v1/threads/{id}: soft delete, stopping a running workflow."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.etag import thread_reply
from threadline.api.native import NATIVE
from threadline.api.native.models import ThreadOut
from threadline.api.route import RestApp, entry
from threadline.logic.delete_thread import delete_thread

app = RestApp(NATIVE)


@app.delete(
    "/v1/threads/<thread_id>",
    summary="Delete a thread",
    responses={409: {"description": "The thread kept changing while being deleted; try again."}},
)
def handle_delete_thread(thread_id: str) -> Response[ThreadOut]:
    """Soft-delete a thread (restorable for the retention window); a running one is cancelled."""
    thread = delete_thread(
        app.tenant("write"),
        thread_id,
        store=wiring.thread_store(),
        steps=wiring.step_store(),
        runner=wiring.workflow_runner(),
    )
    return thread_reply(ThreadOut.from_thread(thread), thread.version)


lambda_handler = entry(app)
