"""A run's stream (SPEC §6, "Stream"): the messages a run's events become, each with its own id,
and what one window of the stream serves (``logic.stream_run``; the wire form is AG-UI's,
``api.native.agui``)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from threadline.errors import InvalidParameterError

MessageKind = Literal[
    "run_started", "step_started", "step_finished", "state_snapshot", "custom", "run_finished", "run_error"
]

# A message id is ``<event id>:<n>``: the n-th message (from 0) of the event it comes from.
_EVENT_ID = r"evt_[0-9]{42}"  # store.keys.EVENT_ID_PATTERN
_POSITION = re.compile(rf"^({_EVENT_ID})(?::([0-9]{{1,4}}))?$")
# After every message of an event: where a bare event id (of the event log, a webhook) resumes.
ALL_OF_EVENT = 10_000


class StreamMessage(BaseModel):
    """One message of a run's stream."""

    id: str = Field(description="<event id>:<n>, the n-th message of that event")
    kind: MessageKind
    thread_id: str
    run_id: str
    created_at: str = Field(description="When the event it comes from happened")
    step_name: str | None = None
    step_id: str | None = None
    snapshot: dict[str, Any] | None = None  # state_snapshot: the run with its steps, as of the event
    name: str | None = None  # custom: the event's type
    value: Any = None  # custom: the event's object; run_finished: the run as it ended
    code: str | None = None  # run_error
    message: str | None = None  # run_error

    def position(self) -> tuple[str, int]:
        """Where the message sits in its run's stream (messages sort by it)."""
        return stream_position(self.id)


class StreamWindow(BaseModel):
    """What one request of a run's stream answers: the messages after the client's last one (none
    when the window passed without any), and whether the run's stream has ended (its last
    message, RUN_FINISHED or RUN_ERROR, is among them or was served before)."""

    messages: list[StreamMessage]
    finished: bool


def stream_position(last_event_id: str) -> tuple[str, int]:
    """A ``Last-Event-ID`` as a position: a message id (``<event id>:<n>``) is that message; a
    bare event id is after all of that event's messages. Anything else is a 400."""
    match = _POSITION.match(last_event_id.strip())
    if match is None:
        raise InvalidParameterError(
            "Last-Event-ID must be a message id of this stream (<event id>:<n>) or an event id", "Last-Event-ID"
        )
    event_id, number = match.groups()
    return event_id, ALL_OF_EVENT if number is None else int(number)
