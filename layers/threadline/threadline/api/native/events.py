"""Events on the wire: what an event's ``data.object`` is (the run, step, thread or feedback as
it was), and the event list."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from threadline.api.native.models import FeedbackOut, RunSummaryOut, ThreadSummaryOut
from threadline.models.domain import Feedback, Run, Step, Thread
from threadline.models.events import Event, EventType


def wire_object(subject: Run | Step | Thread | Feedback) -> dict[str, Any]:
    """An event's subject as the API shows it elsewhere (a run as listed, a step as in a thread's
    ``steps`` with ``object: "step"``, a thread as listed, a feedback)."""
    if isinstance(subject, Run):
        return RunSummaryOut.from_run(subject).model_dump(mode="json")
    if isinstance(subject, Step):
        return {"object": "step", **subject.model_dump(mode="json")}
    if isinstance(subject, Thread):
        return ThreadSummaryOut.from_thread(subject).model_dump(mode="json")
    return FeedbackOut.from_feedback(subject).model_dump(mode="json")


class EventDataOut(BaseModel):
    """What the event is about."""

    object: dict[str, Any] = Field(
        description="The run, step, thread or feedback as it was when the event happened (its own `object` says which)."
    )


class EventOut(BaseModel):
    """One event: a change of a run, or a thread deleted or restored."""

    object: Literal["event"] = "event"
    id: str = Field(description="Increases within a thread; `after` and `Last-Event-ID` take it.")
    type: EventType
    created_at: str
    data: EventDataOut

    @classmethod
    def from_event(cls, event: Event) -> EventOut:
        """An event as recorded (its body is the event as served)."""
        return cls.model_validate(event.payload())


class EventListOut(BaseModel):
    """A page of events, oldest first."""

    object: Literal["list"] = "list"
    data: list[EventOut]
    has_more: bool
    next_cursor: str | None = Field(description="Pass as `cursor` (or `after`) for the next page; null on the last.")
