"""GET /v1/runs/{id}/stream: a run's events as Server-Sent Events in AG-UI format, in windows."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.agui import EVENT_STREAM, SSE_MESSAGE, stream_reply
from threadline.api.route import RestApp, entry
from threadline.logic.stream_run import stream_window

app = RestApp(NATIVE)


@app.get(
    "/v1/runs/<run_id>/stream",
    summary="Stream a run",
    responses={
        200: {
            "description": "The run's next AG-UI events as Server-Sent Events (a `retry:` line first; only a"
            " comment when the window passed without any). Reconnect with Last-Event-ID for the rest.",
            "content": {EVENT_STREAM: {"schema": SSE_MESSAGE}},
        },
        204: {"description": "The run's stream has ended and nothing is left after Last-Event-ID.", "content": {}},
    },
)
def handle_stream_run(
    run_id: str,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="The id of the last message received (EventSource sends it when it reconnects), or an"
            " event id of the event log: the stream resumes right after it.",
        ),
    ] = None,
) -> Response[str]:
    """The run's events as AG-UI events (RUN_STARTED, STEP_STARTED/STEP_FINISHED, STATE_SNAPSHOT,
    CUSTOM, RUN_FINISHED or RUN_ERROR), each message with an id. The request holds until there
    is a new message (up to about 20 s), answers, and ends: EventSource reconnects by itself with
    Last-Event-ID. A finished run replays its messages and ends with its last one; 404 when the
    run is absent, of a deleted thread, or another tenant's."""
    window = stream_window(
        app.tenant("read"),
        run_id,
        last_event_id,
        store=wiring.thread_store(),
        runs=wiring.run_store(),
        events=wiring.event_store(),
        hold_seconds=wiring.stream_window_seconds(),
    )
    return stream_reply(window)


lambda_handler = entry(app)
