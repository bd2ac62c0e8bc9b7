"""GET /v1/runs/{id}/stream: a run's events as AG-UI Server-Sent Events, in windows, resumed with
Last-Event-ID (the events are recorded here, straight into the event log, as the writer records
them; tests/e2e/test_run_stream.py follows a real run with real clients)."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import pytest
from sseclient import SSEClient
from threadline import wiring
from threadline.api.native.models import RunSummaryOut
from threadline.models.domain import Artifact, Step, Thread
from threadline.models.events import Event
from threadline.settings import settings
from threadline.store.runs import thread_runs
from threadline.timeutil import parse_time
from threadline_tools.gateway import Reply
from threadline_tools.provision import Deployment

from tests.conftest import (
    Api,
    Keys,
    Seed,
    changes_nothing,
    current_run_id,
    drain_events,
    error_body,
    invoke,
    load_event,
    settle,
    stamp,
    start_thread,
    wait_for_thread,
)

WINDOW = 0.4  # seconds a request holds for new events (20 when deployed)


@pytest.fixture(autouse=True)
def short_windows(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    windows(monkeypatch, WINDOW)


def windows(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    monkeypatch.setenv("STREAM_WINDOW_SECONDS", str(seconds))
    settings.cache_clear()


class RunLog:
    """Records a run's events as the writer records them: ids in stream order, bodies shaped
    as the API shapes runs and steps."""

    def __init__(self, thread: Thread) -> None:
        self.thread = thread
        self.sequence = 10**20
        self.minute = 0.0
        self.steps: dict[str, Step] = {}
        self.run = thread_runs(thread, [])[0]  # a thread from before runs: its one run is named after it

    def _record(self, kind: str, subject: dict[str, Any]) -> Event:
        self.sequence += 1
        self.minute += 0.1
        event_id = f"evt_{self.sequence:040d}00"
        at = stamp(self.minute)
        body = {"object": "event", "id": event_id, "type": kind, "created_at": at, "data": {"object": subject}}
        event = Event(
            id=event_id,
            type=kind,  # type: ignore[arg-type]
            org_id=self.thread.org_id,
            project_id=self.thread.project_id,
            thread_id=self.thread.id,
            run_id=self.run.id,
            created_at=at,
            body=json.dumps(body),
        )
        wiring.event_store().record(event)
        return event

    def run_event(self, kind: str, status: str) -> Event:
        ended = stamp(self.minute + 0.1) if status in ("completed", "error", "cancelled") else None
        self.run = self.run.model_copy(update={"status": status, "updated_at": stamp(self.minute), "ended_at": ended})
        return self._record(kind, RunSummaryOut.from_run(self.run).model_dump(mode="json"))

    def step(self, name: str, status: str, **fields: Any) -> Event:
        known = self.steps.get(name)
        step = known or Step(id=f"step-{name}", run_id=self.run.id, name=name, status="running", started_at=stamp(1))
        step = step.model_copy(update={"status": status, **fields})
        self.steps[name] = step
        kind = "run.step_started" if known is None else "run.step_finished"
        return self._record(kind, {"object": "step", **step.model_dump(mode="json")})

    def other(self, kind: str, subject: dict[str, Any]) -> Event:
        return self._record(kind, subject)


def review_run(log: RunLog, end: str = "completed") -> list[Event]:
    """A CIP-like run that waits for a person, is resumed, and ends ``end``."""
    artifact = Artifact(title="TIN check", type="tin_check", summary="valid")
    return [
        log.run_event("run.created", "running"),
        log.step("tin", "running"),
        log.step("tin", "completed", artifacts=[artifact], completed_at=stamp(2)),
        log.step("review", "waiting", type="interrupt"),
        log.run_event("run.interrupted", "interrupted"),
        log.step("review", "completed", resolution="human", completed_at=stamp(3)),
        log.run_event("run.resumed", "running"),
        log.step("decision", "running"),
        log.step("decision", "completed", artifacts=[Artifact(title="Decision", type="decision")]),
        log.run_event("run.completed" if end != "cancelled" else "run.cancelled", end),
    ]


def messages_of(reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    """A window's messages, read with an SSE client library: (id, data)."""
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "text/event-stream"
    assert reply.body.startswith("retry: ")
    return [(event.id, json.loads(event.data)) for event in SSEClient([reply.body.encode()]).events()]


def stream(api: Api, run_id: str, last_event_id: str | None = None, key: str | None = None) -> Reply:
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    return api.call("GET", f"/v1/runs/{run_id}/stream", headers=headers, key=key)


EXPECTED_TYPES = [
    "RUN_STARTED",
    "STEP_STARTED",
    "STEP_FINISHED",
    "STATE_SNAPSHOT",
    "STEP_STARTED",
    "STATE_SNAPSHOT",
    "CUSTOM",
    "STEP_FINISHED",
    "STATE_SNAPSHOT",
    "STATE_SNAPSHOT",
    "CUSTOM",
    "STEP_STARTED",
    "STEP_FINISHED",
    "STATE_SNAPSHOT",
    "STATE_SNAPSHOT",
    "RUN_FINISHED",
]


def test_a_finished_run_replays_its_events_as_agui_messages_and_ends(
    api: Api, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a finished run's events, and windows of 10 s
    thread = seed.thread()
    events = review_run(RunLog(thread))
    windows(monkeypatch, 10)

    # When its stream is read from the start
    started = time.monotonic()
    messages = messages_of(stream(api, thread.id))

    # Then at once (the request holds for nothing), every message, in order, with an id of its
    # own, ending with RUN_FINISHED
    assert time.monotonic() - started < 5
    assert [data["type"] for _, data in messages] == EXPECTED_TYPES
    ids = [message_id for message_id, _ in messages]
    assert len(set(ids)) == len(ids)
    assert ids[:4] == [f"{events[0].id}:0", f"{events[1].id}:0", f"{events[2].id}:0", f"{events[2].id}:1"]
    # And every message carries AG-UI's camelCase ids, Middesk's run_id, and the event's time in ms
    for (_, data), event in zip(messages, [events[0], events[1], *[events[2]] * 2], strict=False):
        assert data["threadId"] == thread.id and data["runId"] == thread.id and data["run_id"] == thread.id
        assert data["timestamp"] == int(parse_time(event.created_at).timestamp() * 1000)
    steps = [(data["type"], data.get("stepName")) for _, data in messages if data["type"].startswith("STEP")]
    assert steps[:2] == [("STEP_STARTED", "tin"), ("STEP_FINISHED", "tin")]
    # And each snapshot is the run as of its event (a replay shows what a live client saw)
    snapshots = [data["snapshot"] for _, data in messages if data["type"] == "STATE_SNAPSHOT"]
    assert [(s["status"], [(t["name"], t["status"]) for t in s["steps"]]) for s in snapshots] == [
        ("running", [("tin", "completed")]),
        ("interrupted", [("tin", "completed"), ("review", "waiting")]),
        ("interrupted", [("tin", "completed"), ("review", "completed")]),
        ("running", [("tin", "completed"), ("review", "completed")]),
        ("running", [("tin", "completed"), ("review", "completed"), ("decision", "completed")]),
        ("completed", [("tin", "completed"), ("review", "completed"), ("decision", "completed")]),
    ]
    assert snapshots[0]["object"] == "run" and snapshots[0]["steps"][0]["object"] == "step"
    assert snapshots[0]["steps"][0]["artifacts"] == [{"title": "TIN check", "type": "tin_check", "summary": "valid"}]
    customs = [(data["name"], data["value"]["status"]) for _, data in messages if data["type"] == "CUSTOM"]
    assert customs == [("run.interrupted", "interrupted"), ("run.resumed", "running")]
    assert messages[-1][1]["result"]["status"] == "completed"
    assert messages[-1][1]["outcome"] == {"type": "success"}


def test_last_event_id_resumes_exactly_after_the_last_message_and_204_after_the_end(
    api: Api, seed: Seed, deployment: Deployment
) -> None:
    # Given a finished run and its whole stream (reading it writes nothing)
    thread = seed.thread()
    events = review_run(RunLog(thread))
    with changes_nothing(deployment):
        whole = messages_of(stream(api, thread.id))

    # When a client resumes after each message in turn, then it gets exactly the rest
    for at, (message_id, _) in enumerate(whole[:-1]):
        assert messages_of(stream(api, thread.id, message_id)) == whole[at + 1 :], message_id

    # And a bare event id (of the event log, a webhook) resumes after all of that event's messages
    assert messages_of(stream(api, thread.id, events[2].id)) == whole[4:]

    # And after the last message there is nothing left: 204, which stops EventSource
    ended = stream(api, thread.id, whole[-1][0])
    assert (ended.status, ended.body) == (204, "")


@pytest.mark.parametrize(("end", "code"), [("error", "error"), ("cancelled", "cancelled")], ids=["error", "cancelled"])
def test_a_run_in_error_or_cancelled_ends_with_run_error(api: Api, seed: Seed, end: str, code: str) -> None:
    thread = seed.thread()
    review_run(RunLog(thread), end=end)

    messages = messages_of(stream(api, thread.id))

    assert [data["type"] for _, data in messages][-2:] == ["STATE_SNAPSHOT", "RUN_ERROR"]
    last = messages[-1][1]
    assert last["code"] == code and last["message"] and last["run_id"] == thread.id
    assert messages[-2][1]["snapshot"]["status"] == end


def test_events_after_the_end_are_not_streamed_and_those_before_are_custom(api: Api, seed: Seed) -> None:
    # Given a run with feedback while it waited, and its thread deleted and restored after it ended
    thread = seed.thread()
    log = RunLog(thread)
    log.run_event("run.created", "running")
    feedback = {"object": "feedback", "id": "fb-1", "run_id": thread.id, "rating": "positive"}
    log.other("run.feedback_given", feedback)
    log.run_event("run.cancelled", "cancelled")
    log.other("thread.deleted", {"object": "thread", "id": thread.id, "deleted": True})

    messages = messages_of(stream(api, thread.id))

    assert [data["type"] for _, data in messages] == ["RUN_STARTED", "CUSTOM", "STATE_SNAPSHOT", "RUN_ERROR"]
    assert messages[1][1]["name"] == "run.feedback_given" and messages[1][1]["value"] == feedback


def test_a_window_holds_until_an_event_arrives_then_answers_at_once(
    api: Api, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running run whose client has seen everything so far, and windows of 10 s
    thread = seed.thread()
    log = RunLog(thread)
    first = log.run_event("run.created", "running")
    windows(monkeypatch, 10)

    # When a step starts while its client's request waits
    timer = threading.Timer(0.15, lambda: log.step("tin", "running"))
    timer.start()
    started = time.monotonic()
    reply = stream(api, thread.id, f"{first.id}:0")
    elapsed = time.monotonic() - started
    timer.join()

    # Then the request answers with it, without waiting for the window to pass
    assert [data["type"] for _, data in messages_of(reply)] == ["STEP_STARTED"]
    assert 0.1 < elapsed < 5


def test_a_window_without_events_answers_a_retry_hint_and_a_comment(api: Api, seed: Seed) -> None:
    # Given a running run whose client has seen everything
    thread = seed.thread()
    first = RunLog(thread).run_event("run.created", "running")

    # When the window passes without an event
    started = time.monotonic()
    reply = stream(api, thread.id, f"{first.id}:0")

    # Then it answers 200 with only the reconnection delay and a comment (EventSource reconnects)
    assert time.monotonic() - started >= WINDOW
    assert reply.status == 200 and reply.headers["Content-Type"] == "text/event-stream"
    assert reply.body.startswith("retry: ") and "\n: " in reply.body and "data:" not in reply.body
    assert messages_of(reply) == []


def test_a_finished_run_without_events_ends_after_one_window(api: Api, seed: Seed) -> None:
    # Given a run from before the event log, finished
    thread = seed.thread(status="completed")

    # Then its stream waits one window for the writer, then ends
    assert stream(api, thread.id).status == 204


def test_unknown_and_other_tenants_runs_are_404_and_a_bad_last_event_id_is_400(
    api: Api, seed: Seed, keys: Keys
) -> None:
    thread = seed.thread()
    review_run(RunLog(thread))
    missing = error_body("not_found", "No run with id 0b9f6c2e-6f2a-4c5e-9a51-6d1f0f3c2a7b", "id")

    unknown = stream(api, "0b9f6c2e-6f2a-4c5e-9a51-6d1f0f3c2a7b")
    assert (unknown.status, unknown.json()) == (404, missing)
    assert stream(api, thread.id, key=keys.create("other-org")).status == 404
    assert stream(api, thread.id, key=keys.create(project_id="another")).status == 404
    assert stream(api, "not-a-run").status == 404
    bad = stream(api, thread.id, "12")
    assert bad.status == 400 and bad.json()["errors"][0]["parameter"] == "Last-Event-ID"
    assert stream(api, thread.id, key=keys.create(scopes=("write",))).status == 403
    assert stream(api, thread.id, key=keys.create(scopes=("read",))).status == 200


def test_the_events_file_streams_its_run(seed: Seed) -> None:
    # Given the events file's run (a thread from before runs: the run is named after it)
    event = load_event("stream_run.json")
    run_id = event["pathParameters"]["run_id"]
    review_run(RunLog(seed.thread("acme", id=run_id)))

    reply = invoke("stream_run", event)

    assert reply["statusCode"] == 200
    assert "id: evt_" in reply["body"] and '"type":"RUN_FINISHED"' in reply["body"]


STEPS = 30
INTERRUPTS = 3


def test_no_message_is_lost_or_repeated_across_100_reconnects_at_random_points(api: Api, seed: Seed) -> None:
    # Given a run whose events are recorded while a client follows it
    thread = seed.thread()
    log = RunLog(thread)
    rng = random.Random(20261202)
    pending = [lambda: log.run_event("run.created", "running")]
    for number in range(STEPS):
        pending += [
            lambda n=number: log.step(f"s{n}", "running"),
            lambda n=number: log.step(f"s{n}", "completed", artifacts=[Artifact(title=f"a{n}", type="check")]),
        ]
        if number % (STEPS // INTERRUPTS) == 5:
            pending += [
                lambda: log.run_event("run.interrupted", "interrupted"),
                lambda: log.run_event("run.resumed", "running"),
            ]
    pending.append(lambda: log.run_event("run.completed", "completed"))

    # When it reconnects 100 times, each time cut off after a random number (0 to 2) of the window's
    # messages; an event happens between two windows now and then, and whenever the client has
    # seen everything (so that no window waits)
    received: list[tuple[str, dict[str, Any]]] = []
    last: str | None = None
    reconnects = 0
    caught_up = True
    while True:
        if reconnects >= 100:
            while pending:
                pending.pop(0)()
        elif pending and (caught_up or rng.random() < 0.3):
            pending.pop(0)()
        reply = stream(api, thread.id, last)
        if reply.status == 204:
            break
        window = messages_of(reply)
        kept = window[: rng.randint(0, min(2, len(window)))] if reconnects < 100 else window
        caught_up = len(kept) == len(window)
        reconnects += 1
        received += kept
        if kept:
            last = kept[-1][0]

    # Then what it got, put together, is the whole stream: nothing lost, nothing twice
    assert reconnects >= 100
    whole = messages_of(stream(api, thread.id))
    assert received == whole
    assert len({message_id for message_id, _ in received}) == len(received)
    assert whole[-1][1]["type"] == "RUN_FINISHED" and len(whole) == 1 + STEPS * 3 + INTERRUPTS * 2 * 2 + 2


def test_a_real_run_cancelled_while_it_waits_ends_its_stream_with_run_error(api: Api, deployment: Deployment) -> None:
    # Given a real run waiting for a person, its events recorded by the event log's writer
    thread = start_thread(api, "suspicious")
    run_id = current_run_id(deployment, thread["id"])
    assert run_id is not None
    wait_for_thread(api, deployment, thread["id"], "interrupted")
    drain_events()
    before = messages_of(stream(api, run_id))
    assert before[0][1]["type"] == "RUN_STARTED" and before[-1][1]["type"] in ("CUSTOM", "STEP_STARTED")
    assert "run.interrupted" in [data.get("name") for _, data in before]

    # When it is cancelled
    assert api.call("POST", f"/v1/runs/{run_id}/cancel").status == 200
    settle(deployment)
    drain_events()

    # Then its client, resuming after what it saw, gets the waiting step closed and the end
    rest = messages_of(stream(api, run_id, before[-1][0]))
    assert [data["type"] for _, data in rest][-2:] == ["STATE_SNAPSHOT", "RUN_ERROR"]
    assert rest[-1][1]["code"] == "cancelled" and rest[-2][1]["snapshot"]["status"] == "cancelled"
    assert not {message_id for message_id, _ in rest} & {message_id for message_id, _ in before}
    assert stream(api, run_id, rest[-1][0]).status == 204


def test_a_stream_reads_no_user_data_and_calls_no_kms(api: Api, seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a finished run whose thread holds user_data, and a cipher that fails any decryption
    from threadline.store.crypto import UserDataCipher

    thread = seed.thread(user_data="the customer's secret notes")
    review_run(RunLog(thread))

    def no_kms(*_: Any) -> str:
        raise AssertionError("the stream decrypted user_data")

    monkeypatch.setattr(UserDataCipher, "decrypt", no_kms)

    # When its stream is read, then it is served (its thread's user_data was never decrypted)
    reply = stream(api, thread.id)
    assert reply.status == 200, reply.body
    assert "the customer's secret notes" not in reply.body
