"""POST /v1/threads/{id}/cancel: stop the thread's workflow."""

from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.models import ThreadOut
from threadline.api.route import RestApp, entry
from threadline.logic.cancel_thread import cancel_thread

app = RestApp(NATIVE)


@app.post("/v1/threads/<thread_id>/cancel", summary="Cancel a thread")
def handle_cancel_thread(thread_id: str) -> ThreadOut:
    """Stop a running or interrupted thread's workflow; 409 when it has already finished."""
    thread = cancel_thread(
        app.tenant("write"),
        thread_id,
        store=wiring.thread_store(),
        statuses=wiring.status_store(),
        runner=wiring.workflow_runner(),
    )
    return ThreadOut.from_thread(thread)


lambda_handler = entry(app)
