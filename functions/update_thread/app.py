"""PATCH /v1/threads/{id}: merge metadata, replace user data."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from threadline import wiring
from threadline.api.etag import IF_MATCH, expected_versions, thread_reply
from threadline.api.native import NATIVE
from threadline.api.native.models import ThreadOut, UpdateThreadRequest
from threadline.api.route import RestApp, entry
from threadline.logic.update_thread import update_thread

app = RestApp(NATIVE)


@app.patch(
    "/v1/threads/<thread_id>",
    summary="Update a thread",
    responses={
        200: {"description": "The thread as changed."},
        412: {"description": "If-Match names an older version."},
    },
)
def handle_update_thread(
    thread_id: str,
    request: UpdateThreadRequest,
    if_match: Annotated[
        str | None,
        Header(alias=IF_MATCH, description='The ETag of the version the change was made from, e.g. "3".'),
    ] = None,
) -> Response[ThreadOut]:
    """Merge `metadata` (a key set to null is removed) and replace `user_data`; other fields
    are read-only. With `If-Match` the change applies only to that version (else 412); without
    it, concurrent changes are merged, never lost. Filters and counts follow the new metadata."""
    thread = update_thread(
        app.tenant("write"),
        thread_id,
        request.to_change(),
        expected_versions(if_match),
        store=wiring.thread_store(),
    )
    return thread_reply(ThreadOut.from_thread(thread), thread.version)


lambda_handler = entry(app)
