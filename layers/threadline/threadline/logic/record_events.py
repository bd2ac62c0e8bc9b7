"""A stored change of the threads table → the events it is (SPEC §6), recorded in the event log.

Events come from the stored changes themselves (the threads table's stream), so none is missed
and none invented: a change that is not one of these (a replayed write that changed nothing, a
token moving, an index item) is no event, and recording a change again writes the same events
(their ids are the change's stream sequence number and their position in it).

    item      change                                   events
    run       inserted, active                         run.created
    step      inserted                                 run.step_started (+ run.step_finished if final)
    step      running/waiting → final                  run.step_finished
    header    run's status running → interrupted       run.interrupted
    header    interrupted → running                    run.resumed
    header    → completed / failed                     run.completed (the run: completed / error)
    header    → cancelled                              run.cancelled
    header    deleted false → true / true → false      thread.deleted / thread.restored
    feedback  inserted                                 run.feedback_given

A thread's own events belong to its current run (they are recorded in that run's partition).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from threadline import observability
from threadline.models.domain import ACTIVE_STATUSES, Feedback, Run, Step, Thread
from threadline.models.events import Event, EventType
from threadline.store import keys
from threadline.store.events import EventStore
from threadline.store.items import deserialize, step_from_item, thread_from_header
from threadline.store.runs import RunStore, run_from_item, thread_runs
from threadline.store.thread_status import ThreadStatusStore
from threadline.timeutil import parse_time

# What an event's ``data.object`` is made from: the api layer shapes it for the wire.
Subject = Run | Step | Thread | Feedback
Shape = Callable[[Subject], dict[str, Any]]

_FINAL_STEP = frozenset({"completed", "failed", "cancelled"})
# An event's JSON is kept under this (DynamoDB's item limit is 400 KB, an event item holds its
# body once); a bigger subject leaves out these fields and says ``"truncated": true``.
MAX_BODY_CHARS = 300_000
_BULKY = frozenset({"artifacts", "output", "input", "metadata"})
_OPEN_STEP = frozenset({"running", "waiting"})


class ThreadReader:
    """What the writer reads besides the change: a thread's project (for an item of its partition;
    it never changes, so it is read once per batch) and its runs (for the current run's fields,
    when its header changed). Made for one batch."""

    def __init__(self, statuses: ThreadStatusStore, runs: RunStore) -> None:
        self._statuses = statuses
        self._runs = runs
        self._projects: dict[tuple[str, str], str | None] = {}

    def project(self, org_id: str, thread_id: str) -> str | None:
        """The thread's project, or None when the thread is gone (purged)."""
        if (org_id, thread_id) not in self._projects:
            header = self._statuses.header(org_id, thread_id)
            self._projects[org_id, thread_id] = str(header["project_id"]) if header is not None else None
        return self._projects[org_id, thread_id]

    def runs(self, org_id: str, thread_id: str) -> list[Run]:
        """The thread's run items."""
        return self._runs.runs(org_id, thread_id)


@dataclass(frozen=True)
class Happened:
    """One event of a change, before it has an id."""

    type: EventType
    run_id: str
    at: str
    subject: Subject


@dataclass(frozen=True)
class Change:
    """A stored change of a thread's partition, and the events it is (before they have ids)."""

    org_id: str
    project_id: str
    thread_id: str
    sequence: str
    happened: list[Happened]

    def events(self, shape: Shape) -> list[Event]:
        return [
            _event(keys.event_id(self.sequence, position), self, item, shape)
            for position, item in enumerate(self.happened)
        ]


def record_change(record: dict[str, Any], events: EventStore, threads: ThreadReader, shape: Shape) -> int:
    """Record the events of one stream record (Lambda's shape), in order, then count what they
    tell in metrics; how many."""
    change = change_of(record, threads)
    if change is None:
        return 0
    found = change.events(shape)
    for event in found:
        events.record(event)
    for happened in change.happened:
        _measure(happened)
    return len(found)


def events_of(record: dict[str, Any], threads: ThreadReader, shape: Shape) -> list[Event]:
    """The events one stored change is (none for a change that is no event)."""
    change = change_of(record, threads)
    return change.events(shape) if change is not None else []


def change_of(record: dict[str, Any], threads: ThreadReader) -> Change | None:
    """The change one stream record is, or None when it is none of a thread's."""
    change = record.get("dynamodb") or {}
    pk = change.get("Keys", {}).get("pk", {}).get("S", "")
    sk = change.get("Keys", {}).get("sk", {}).get("S", "")
    if not pk.startswith(keys.THREAD_PK_PREFIX):
        return None
    org_id, thread_id = keys.thread_of_pk(pk)
    if keys.is_runs_org(org_id):  # a run's listing entry, which the indexer writes
        return None
    new = deserialize(change["NewImage"]) if change.get("NewImage") else None
    old = deserialize(change["OldImage"]) if change.get("OldImage") else None
    if new is None:  # a purge: the thread is gone, with its events' reason to be
        return None
    if sk == keys.THREAD_SK:
        project = str(new["project_id"])
        happened = _header_events(old, new, threads)
    else:
        found = threads.project(org_id, thread_id)
        if found is None:
            return None
        project = found
        if sk.startswith(keys.RUN_SK_PREFIX):
            happened = _run_events(old, new)
        elif sk.startswith(keys.STEP_SK_PREFIX):
            happened = _step_events(old, new, thread_id)
        elif sk.startswith(keys.FEEDBACK_SK_PREFIX):
            happened = _feedback_events(old, new)
        else:
            return None
    return Change(org_id, project, thread_id, str(change["SequenceNumber"]), happened)


def _measure(happened: Happened) -> None:
    """The metrics an event tells (docs/operations.md, "Metrics"): counted once, as the change is
    recorded once (a batch is retried from its first failed record)."""
    subject = happened.subject
    if isinstance(subject, Run):
        if happened.type in ("run.completed", "run.cancelled"):
            observability.count("RunsFinished", agent_type=subject.agent, status=subject.status)
        elif happened.type == "run.interrupted":
            observability.count("InterruptsRaised", agent_type=subject.agent)
        elif happened.type == "run.resumed":
            observability.count("InterruptsResolved", agent_type=subject.agent)
    elif isinstance(subject, Step) and happened.type == "run.step_finished" and subject.completed_at:
        took = parse_time(subject.completed_at) - parse_time(subject.started_at)
        observability.measure("StepDuration", took.total_seconds() * 1000, agent=subject.agent or subject.name)


def _event(event_id: str, change: Change, happened: Happened, shape: Shape) -> Event:
    subject = shape(happened.subject)
    body = {
        "object": "event",
        "id": event_id,
        "type": happened.type,
        "created_at": happened.at,
        "data": {"object": subject},
    }
    if len(json.dumps(body, separators=(",", ":"), default=str)) > MAX_BODY_CHARS:
        # A step item may be up to DynamoDB's 400 KB, and an event item must fit beside its
        # attributes: the bulky fields are left out, and the event says so (read the run for them).
        lean = {k: v for k, v in subject.items() if k not in _BULKY}
        body["data"] = {"object": {**lean, "truncated": True}}
    return Event(
        id=event_id,
        type=happened.type,
        org_id=change.org_id,
        project_id=change.project_id,
        thread_id=change.thread_id,
        run_id=happened.run_id,
        created_at=happened.at,
        body=json.dumps(body, separators=(",", ":"), default=str),
    )


def _header_events(old: dict[str, Any] | None, new: dict[str, Any], threads: ThreadReader) -> list[Happened]:
    if old is None:  # a new thread: its run's item says it (run.created)
        return []
    before, after = thread_from_header(old), thread_from_header(new)
    happened: list[Happened] = []
    if before.run_id == after.run_id and before.status != after.status:
        kind = _run_status_event(before.status, after.status)
        if kind is not None:
            run = _current_run(after, threads)
            happened.append(Happened(kind, run.id, after.updated_at, run))
    if before.deleted != after.deleted:
        kind = "thread.deleted" if after.deleted else "thread.restored"
        happened.append(Happened(kind, after.run_id or after.id, after.deleted_at or after.updated_at, after))
    return happened


def _run_status_event(before: str, after: str) -> EventType | None:
    if after == "interrupted":
        return "run.interrupted"
    if after == "running":
        return "run.resumed" if before == "interrupted" else None
    if before not in ACTIVE_STATUSES:
        return None  # a finished run does not finish again
    return "run.cancelled" if after == "cancelled" else "run.completed"


def _current_run(thread: Thread, threads: ThreadReader) -> Run:
    """The thread's current run as the header shows it (its status and end as of this change)."""
    # (with_current: a change replayed after a purge finds no run item; the header tells the run)
    runs = thread_runs(thread, threads.runs(thread.org_id, thread.id), with_current=True)
    return next(run for run in runs if run.seq == thread.run_seq)


def _run_events(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Happened]:
    run = run_from_item(new)
    if old is not None or run.status not in ACTIVE_STATUSES:
        return []  # a run item rewritten as its run ended, when another superseded it
    return [Happened("run.created", run.id, run.created_at, run)]


def _step_events(old: dict[str, Any] | None, new: dict[str, Any], thread_id: str) -> list[Happened]:
    step = step_from_item({"run_id": thread_id, **new})  # a step from before runs: its run is named after the thread
    was = old.get("status") if old is not None else None
    happened: list[Happened] = []
    if old is None:
        happened.append(Happened("run.step_started", step.run_id, step.started_at, step))
    if step.status in _FINAL_STEP and (was is None or was in _OPEN_STEP):
        happened.append(Happened("run.step_finished", step.run_id, step.completed_at or step.started_at, step))
    return happened


def _feedback_events(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Happened]:
    if old is not None:
        return []
    feedback = Feedback.model_validate({k: v for k, v in new.items() if k in Feedback.model_fields})
    return [Happened("run.feedback_given", feedback.run_id, feedback.created_at, feedback)]
