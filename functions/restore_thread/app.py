"""POST /v1/threads/{id}/restore: undo a soft delete within the retention period."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.etag import thread_reply
from threadline.api.native import NATIVE
from threadline.api.native.models import ThreadOut
from threadline.api.route import RestApp, entry
from threadline.logic.restore_thread import restore_thread

app = RestApp(NATIVE)


@app.post(
    "/v1/threads/<thread_id>/restore",
    summary="Restore a deleted thread",
    responses={409: {"description": "The thread is not deleted."}},
)
def handle_restore_thread(thread_id: str) -> Response[ThreadOut]:
    """Bring back a deleted thread as it was (a thread its deletion cancelled stays cancelled),
    in both dialects, within `RetentionDays` of its deletion; after that it is purged and this
    is a 404. A thread that is not deleted is a 409."""
    thread = restore_thread(app.tenant("write"), thread_id, store=wiring.thread_store())
    return thread_reply(ThreadOut.from_thread(thread), thread.version)


lambda_handler = entry(app)
