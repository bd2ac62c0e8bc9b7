"""GET /v1/threads/{id}: one thread with its steps."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.etag import thread_reply
from threadline.api.native import NATIVE
from threadline.api.native.models import ThreadOut
from threadline.api.route import RestApp, entry
from threadline.logic.get_thread import get_thread

app = RestApp(NATIVE)


@app.get("/v1/threads/<thread_id>", summary="Retrieve a thread")
def handle_get_thread(thread_id: str) -> Response[ThreadOut]:
    """A thread with its steps; 404 when absent, deleted or another tenant's. Its `ETag` names
    its version, for a PATCH's `If-Match`."""
    thread = get_thread(app.tenant("read"), thread_id, store=wiring.thread_store())
    return thread_reply(ThreadOut.from_thread(thread), thread.version)


lambda_handler = entry(app)
