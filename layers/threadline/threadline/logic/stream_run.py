"""A run's stream (SPEC §6, "Stream"): the run's events as stream messages, served in windows.

Each event becomes one or more messages (AG-UI's, in ``api.native.agui``), with ids
``<event id>:<n>``:

    event                 messages
    run.created           RUN_STARTED (a run without one opens with it all the same)
    run.step_started      STEP_STARTED
    run.step_finished     STEP_FINISHED, STATE_SNAPSHOT (the run with its steps as of the event)
    run.interrupted       STATE_SNAPSHOT, CUSTOM "run.interrupted" (the run)
    run.resumed           STATE_SNAPSHOT, CUSTOM "run.resumed" (the run)
    run.feedback_given    CUSTOM "run.feedback_given" (the feedback)
    thread.deleted        CUSTOM "thread.deleted" (the thread)
    thread.restored       CUSTOM "thread.restored" (the thread)
    run.completed         STATE_SNAPSHOT, then RUN_FINISHED (completed) or RUN_ERROR (error)
    run.cancelled         STATE_SNAPSHOT, RUN_ERROR (code "cancelled")

RUN_FINISHED / RUN_ERROR is the stream's last message (AG-UI allows no event of a run after
it): later events (feedback on the finished run, its thread deleted or restored) are in the
event log and webhooks, not in the stream.

Snapshots are folded from the run's own events, never read from the run's current state, so a
replay of the stream is exactly what a live client saw. The messages are made afresh from all
of the run's events on every request (a run has tens of events): the messages after the
client's ``Last-Event-ID`` are then simply the tail of that list.

Lambda Python cannot stream a response, so a request is a window: it holds until there is at
least one message after the client's last one (polling the event log), the run's stream has
ended, or the window passes, and answers what it has; the client reconnects with the id of the
last message it got (EventSource does so by itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from threadline.logic.runs import find_run
from threadline.models.domain import Tenant
from threadline.models.events import Event
from threadline.models.stream import StreamMessage, StreamWindow, stream_position
from threadline.store.events import EventStore
from threadline.store.runs import RunStore
from threadline.store.threads import ThreadStore
from threadline.timeutil import parse_time

POLL_SECONDS = 0.25
# How long a run's end waits for the events of the steps it closed (recorded within a second or
# so) before the stream ends without them; and how long after a run ended its stream may end
# without its end's event (a run from before the event log, or whose events expired).
END_GRACE_SECONDS = 60.0
_PAGE = 1000
_FINAL_RUN = frozenset({"completed", "error", "cancelled"})


def stream_window(
    tenant: Tenant,
    run_id: str,
    last_event_id: str | None,
    *,
    store: ThreadStore,
    runs: RunStore,
    events: EventStore,
    hold_seconds: float,
    poll_seconds: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall: Callable[[], float] = time.time,
) -> StreamWindow:
    """One window of the tenant's run ``run_id`` (404 when unknown, another tenant's or of a
    deleted thread): the messages after ``last_event_id`` (all without one), as soon as there is
    one, or none once ``hold_seconds`` passed; and whether the stream has ended.

    A run whose thread shows it finished over ``END_GRACE_SECONDS`` ago, but whose event log has
    no end (a run from before the event log, or whose events expired), ends when a whole window
    passed without one: the writer lags the table by about a second, not by a minute."""
    thread, run = find_run(tenant, run_id, store=store, runs=runs, with_details=False)  # (no steps, no KMS)
    after = stream_position(last_event_id) if last_event_id else None
    ended = run.ended_at if run.status in _FINAL_RUN else None
    ended_before = ended is not None and parse_time(ended).timestamp() < wall() - END_GRACE_SECONDS
    deadline = clock() + hold_seconds
    seen = _events_after(events, thread.org_id, run.id, None)
    while True:
        messages, finished = run_messages(seen, now=wall())
        fresh = [m for m in messages if after is None or m.position() > after]
        if fresh or finished:
            return StreamWindow(messages=fresh, finished=finished)
        if clock() >= deadline:
            return StreamWindow(messages=[], finished=ended_before)
        sleep(max(0.0, min(poll_seconds, deadline - clock())))
        seen += _events_after(events, thread.org_id, run.id, seen[-1].id if seen else None)


def _events_after(events: EventStore, org_id: str, run_id: str, after: str | None) -> list[Event]:
    """Every event of the run after ``after``, however many (a page is ``_PAGE`` events)."""
    found: list[Event] = []
    while True:
        page = events.run_events(org_id, run_id, after=after, limit=_PAGE)
        found += page
        if len(page) < _PAGE:
            return found
        after = page[-1].id


def run_messages(events: list[Event], now: float | None = None) -> tuple[list[StreamMessage], bool]:
    """The stream's messages of a run's events (in order), up to its last message; and whether
    that last message (RUN_FINISHED or RUN_ERROR) is among them. ``now`` (epoch seconds) lets a
    run's end that still waits for the steps it closed end the stream once it is old
    (``END_GRACE_SECONDS``)."""
    fold = RunFold()
    messages: list[StreamMessage] = []
    for event in events:
        made = fold.messages(event)
        messages += made
        if made and made[-1].kind in ("run_finished", "run_error"):
            return messages, True
    late = fold.overdue_end(now) if now is not None else []
    return messages + late, bool(late)


class RunFold:
    """A run's state as its events tell it, event by event: the run as of its last run event, and
    its steps (each as of its last step event) in the order they started."""

    def __init__(self) -> None:
        self.run: dict[str, Any] = {}
        self.steps: dict[str, dict[str, Any]] = {}
        self.started = False
        # A run's end whose closed steps are not folded in yet: DynamoDB Streams does not promise
        # the order of one transaction's items, and a cancel (or a reconciled failure) closes the
        # run's open steps with its end. Their events are folded in before the end's messages.
        self.pending_end: Event | None = None
        self.last: tuple[Event, int] | None = None  # the last event folded and its messages' count

    def open_steps(self) -> list[dict[str, Any]]:
        """The steps that have not finished, as folded so far."""
        return [step for step in self.steps.values() if step.get("status") in ("running", "waiting")]

    def overdue_end(self, now: float) -> list[StreamMessage]:
        """The messages of a pending end older than ``END_GRACE_SECONDS`` (its steps' closing
        events never came), after the last folded event's; none otherwise."""
        if self.pending_end is None or self.last is None:
            return []
        if parse_time(self.pending_end.created_at).timestamp() > now - END_GRACE_SECONDS:
            return []
        end, self.pending_end = self.pending_end, None
        fields = [{"kind": "state_snapshot", "snapshot": self.snapshot()}, self._end(end, self.run)]
        (last, count), common = self.last, _common(end)
        return [StreamMessage(id=f"{last.id}:{count + n}", **common, **f) for n, f in enumerate(fields)]

    def snapshot(self) -> dict[str, Any]:
        """The run with its steps and their artifacts, as of the events folded so far."""
        return {**self.run, "steps": list(self.steps.values())}

    def messages(self, event: Event) -> list[StreamMessage]:
        """Fold ``event`` in; the messages it becomes."""
        subject: dict[str, Any] = dict(event.payload().get("data", {}).get("object") or {})
        made: list[dict[str, Any]] = []
        # after a run's end, only the steps it closed (stamped with its time) are the run's
        pending = self.pending_end
        if pending is not None and (event.type != "run.step_finished" or event.created_at > pending.created_at):
            return []
        if event.type.startswith("run.step_"):
            step = {k: v for k, v in subject.items() if k != "object"}
            self.steps[str(step["id"])] = {"object": "step", **step}
            step_fields = {"step_name": str(step.get("name", "")), "step_id": str(step["id"])}
            if event.type == "run.step_started":
                made.append({"kind": "step_started", **step_fields})
            else:
                made += [{"kind": "step_finished", **step_fields}, {"kind": "state_snapshot"}]
                if self.pending_end is not None and not self.open_steps():
                    made.append(self._end(self.pending_end, self.run))
                    self.pending_end = None
        elif event.type in ("run.created", "run.interrupted", "run.resumed", "run.completed", "run.cancelled"):
            self.run = subject
            if event.type == "run.created":
                made.append({"kind": "run_started"})
            elif event.type in ("run.interrupted", "run.resumed"):
                made += [{"kind": "state_snapshot"}, {"kind": "custom", "name": event.type, "value": subject}]
            elif self.open_steps():
                self.pending_end = event  # its closed steps' events come next
            else:
                made += [{"kind": "state_snapshot"}, self._end(event, subject)]
        else:  # run.feedback_given, thread.deleted, thread.restored
            made.append({"kind": "custom", "name": event.type, "value": subject})
        if not made:
            return []
        if not self.started and made[0]["kind"] != "run_started":
            # AG-UI opens a run with RUN_STARTED: a run with no run.created (a thread's run from
            # before runs) opens with its first event, whose messages it joins (ids stay stable)
            made.insert(0, {"kind": "run_started"})
        self.started = True
        common = _common(event)
        for fields in made:
            if fields["kind"] == "state_snapshot":
                fields["snapshot"] = self.snapshot()
        self.last = (event, len(made))
        return [StreamMessage(id=f"{event.id}:{n}", **common, **fields) for n, fields in enumerate(made)]

    def _end(self, event: Event, run: dict[str, Any]) -> dict[str, Any]:
        if event.type == "run.cancelled":
            return {"kind": "run_error", "code": "cancelled", "message": "The run was cancelled"}
        if run.get("status") == "error":
            failed = [s for s in self.steps.values() if s.get("status") == "failed"]
            error = (failed[-1].get("error") or {}) if failed else {}
            detail = error.get("message") or error.get("error") or error.get("cause")
            message = f"The run failed: {detail}" if detail else "The run failed"
            return {"kind": "run_error", "code": "error", "message": str(message)}
        return {"kind": "run_finished", "value": run}


def _common(event: Event) -> dict[str, Any]:
    return {"thread_id": event.thread_id, "run_id": event.run_id, "created_at": event.created_at}
