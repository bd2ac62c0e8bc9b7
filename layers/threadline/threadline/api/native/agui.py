"""A run's stream on the wire: AG-UI events (the ``@ag-ui/core`` package's schemas, protocol
1.0) as Server-Sent Events.

Every message's ``data`` is one AG-UI event: its ``type``, its camelCase fields (``threadId``,
``runId``, ``stepName``, ``snapshot``, ``timestamp`` in milliseconds) and, beside them,
Middesk's snake_case ``run_id`` (and ``thread_id``; AG-UI's schemas keep unknown keys). Each
message has an ``id:`` (``<event id>:<n>``) and no ``event:`` field, so an EventSource's
``onmessage`` and AG-UI's HTTP client both see every message.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ConfigDict, Field

from threadline.models.stream import StreamMessage, StreamWindow
from threadline.timeutil import parse_time

EVENT_STREAM = "text/event-stream"
# One message of the stream, as OpenAPI describes a text/event-stream body (a schema per message).
SSE_MESSAGE: dict[str, Any] = {
    "type": "object",
    "description": "A Server-Sent Events message: its id and its data, one AG-UI event as JSON.",
    "properties": {
        "id": {"type": "string", "description": "<event id>:<n>: the n-th message of that event"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "An AG-UI event (@ag-ui/core's schemas): type, timestamp, threadId, runId and run_id",
        },
        "event": {"type": "string"},
        "retry": {"type": "integer"},
    },
    "required": ["id", "data"],
}
# How long EventSource waits before it reconnects, after a window.
RETRY_MILLISECONDS = 500


class AguiEvent(BaseModel):
    """What every message of the stream carries."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    type: str
    timestamp: int = Field(description="When the event happened, in milliseconds since the epoch")
    thread_id_: str = Field(alias="threadId")
    run_id_: str = Field(alias="runId")
    run_id: str = Field(description="Middesk's snake_case run id (runId)")
    thread_id: str


class RunStarted(AguiEvent):
    type: Literal["RUN_STARTED"] = "RUN_STARTED"


class StepStarted(AguiEvent):
    type: Literal["STEP_STARTED"] = "STEP_STARTED"
    step_name: str = Field(alias="stepName")
    step_id: str


class StepFinished(AguiEvent):
    type: Literal["STEP_FINISHED"] = "STEP_FINISHED"
    step_name: str = Field(alias="stepName")
    step_id: str


class StateSnapshot(AguiEvent):
    type: Literal["STATE_SNAPSHOT"] = "STATE_SNAPSHOT"
    snapshot: dict[str, Any] = Field(description="The run with its steps and their artifacts, as of the event")


class Custom(AguiEvent):
    type: Literal["CUSTOM"] = "CUSTOM"
    name: str = Field(description="The Threadline event type, e.g. run.interrupted")
    value: dict[str, Any] = Field(description="The event's object: the run, feedback or thread as it was then")


class RunFinished(AguiEvent):
    type: Literal["RUN_FINISHED"] = "RUN_FINISHED"
    result: dict[str, Any] = Field(description="The run as it ended")
    outcome: dict[str, Any] = Field(default_factory=lambda: {"type": "success"})


class RunError(AguiEvent):
    type: Literal["RUN_ERROR"] = "RUN_ERROR"
    message: str
    code: str = Field(description="cancelled, or error")


def agui_event(message: StreamMessage) -> AguiEvent:
    """A stream message as its AG-UI event."""
    common: dict[str, Any] = {
        "timestamp": int(parse_time(message.created_at).timestamp() * 1000),
        "threadId": message.thread_id,
        "runId": message.run_id,
        "thread_id": message.thread_id,
        "run_id": message.run_id,
    }
    match message.kind:
        case "run_started":
            return RunStarted(**common)
        case "step_started":
            return StepStarted(**common, stepName=message.step_name or "", step_id=message.step_id or "")
        case "step_finished":
            return StepFinished(**common, stepName=message.step_name or "", step_id=message.step_id or "")
        case "state_snapshot":
            return StateSnapshot(**common, snapshot=message.snapshot or {})
        case "custom":
            return Custom(**common, name=message.name or "", value=message.value or {})
        case "run_finished":
            return RunFinished(**common, result=message.value or {})
        case "run_error":
            return RunError(**common, message=message.message or "", code=message.code or "error")


# A Lambda response is at most 6 MB: a window stops before this many bytes of messages (a replay of
# a long run, each STEP_FINISHED followed by a snapshot of every step, may be larger).
MAX_WINDOW_BYTES = 4_000_000


def event_stream(window: StreamWindow, retry_ms: int = RETRY_MILLISECONDS) -> str:
    """A window as a ``text/event-stream`` body: the reconnection delay, then one message per
    stream message (``id:`` and one ``data:`` line of JSON); a window without any says so in a
    comment (which keeps proxies and ``curl -N`` from waiting on an empty body)."""
    parts = [f"retry: {retry_ms}\n\n"]
    if not window.messages:
        parts.append(": no new events in this window; reconnect with Last-Event-ID\n\n")
    size = 0
    for message in window.messages:
        data = json.dumps(agui_event(message).model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)
        part = f"id: {message.id}\ndata: {data}\n\n"
        size += len(part.encode())
        if size > MAX_WINDOW_BYTES and len(parts) > 1:
            break  # the rest in the next window (the client resumes after the last message sent)
        parts.append(part)
    return "".join(parts)


def stream_reply(window: StreamWindow) -> Response[str]:
    """The HTTP answer of a window: 204 when the run's stream has ended and nothing is left
    (EventSource then stops reconnecting), else 200 ``text/event-stream``."""
    if window.finished and not window.messages:
        return Response(status_code=204, body="", headers={"Cache-Control": "no-store"})
    return Response(
        status_code=200,
        content_type=EVENT_STREAM,
        body=event_stream(window),
        headers={"Cache-Control": "no-store"},
    )
