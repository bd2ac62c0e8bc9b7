"""POST /v1/threads/{id}/cancel: stop the thread's workflow."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.etag import thread_reply
from threadline.api.native import NATIVE
from threadline.api.native.models import ThreadOut
from threadline.api.route import RestApp, entry
from threadline.logic.cancel_thread import cancel_thread

app = RestApp(NATIVE)


@app.post(
    "/v1/threads/<thread_id>/cancel",
    summary="Cancel a thread",
    responses={409: {"description": "The thread has already finished."}},
)
def handle_cancel_thread(thread_id: str) -> Response[ThreadOut]:
    """Stop a running or interrupted thread's workflow; 409 when it has already finished."""
    thread = cancel_thread(
        app.tenant("write"),
        thread_id,
        store=wiring.thread_store(),
        steps=wiring.step_store(),
        runner=wiring.workflow_runner(),
    )
    return thread_reply(ThreadOut.from_thread(thread), thread.version)


lambda_handler = entry(app)
