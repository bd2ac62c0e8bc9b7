"""Events (SPEC §6): every change of a run, and a thread's deletion and restoration, as it was
recorded from the stored changes (``logic.record_events``)."""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from pydantic import BaseModel

EventType = Literal[
    "run.created",
    "run.step_started",
    "run.step_finished",
    "run.interrupted",
    "run.resumed",
    "run.completed",
    "run.cancelled",
    "run.feedback_given",
    "thread.deleted",
    "thread.restored",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
# ``evt_``, the stream sequence number of the change in 40 digits, the event's position in it in 2
# (store.keys.event_id)
EVENT_ID_PATTERN = r"^evt_[0-9]{42}$"


class EventFilter(BaseModel):
    """Which of an org's events a list wants (a project's key always names its project)."""

    org_id: str
    project_id: str | None = None
    thread_id: str | None = None
    run_id: str | None = None
    type: EventType | None = None


class Event(BaseModel):
    """One event as recorded: ``body`` is the event's JSON exactly as the API serves it and a
    webhook delivers it (``{"object": "event", "id", "type", "created_at", "data": {"object": …}}``)."""

    id: str
    type: EventType
    org_id: str
    project_id: str
    thread_id: str
    run_id: str
    created_at: str
    body: str

    def payload(self) -> dict[str, Any]:
        """The event as served (the parsed ``body``)."""
        return dict(json.loads(self.body))
