"""A run's stream without AWS: events → AG-UI messages, their ids and positions, the SSE body."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from threadline.api.native.agui import agui_event, event_stream
from threadline.errors import InvalidParameterError
from threadline.logic.stream_run import run_messages
from threadline.models.events import Event
from threadline.models.stream import ALL_OF_EVENT, StreamWindow, stream_position
from threadline.timeutil import parse_time
from threadline_tools.template import resources

RUN = "0b9f6c2e-6f2a-4c5e-9a51-6d1f0f3c2a7b"


def event(number: int, kind: str, subject: dict[str, Any]) -> Event:
    event_id = f"evt_{number:042d}"
    at = f"2026-12-02T08:00:{number:02d}.000Z"
    body = {"object": "event", "id": event_id, "type": kind, "created_at": at, "data": {"object": subject}}
    return Event(
        id=event_id,
        type=kind,  # type: ignore[arg-type]
        org_id="acme",
        project_id="default",
        thread_id=RUN,
        run_id=RUN,
        created_at=at,
        body=json.dumps(body),
    )


def run(status: str) -> dict[str, Any]:
    return {"object": "run", "id": RUN, "thread_id": RUN, "status": status}


def step(status: str, **fields: Any) -> dict[str, Any]:
    return {"object": "step", "id": "s1", "run_id": RUN, "name": "tin_check", "status": status, **fields}


def test_a_message_id_is_its_position_and_a_bare_event_id_is_after_all_of_its_messages() -> None:
    assert stream_position(f"evt_{7:042d}:1") == (f"evt_{7:042d}", 1)
    assert stream_position(f"evt_{7:042d}") == (f"evt_{7:042d}", ALL_OF_EVENT)
    assert stream_position(f"evt_{7:042d}:1") < stream_position(f"evt_{7:042d}") < stream_position(f"evt_{8:042d}:0")
    for bad in ("", "12", "evt_12", f"evt_{7:042d}:x", f"evt_{7:042d}:1:2"):
        with pytest.raises(InvalidParameterError) as raised:
            stream_position(bad)
        assert raised.value.parameter == "Last-Event-ID"


def test_events_become_messages_with_ids_of_their_own_up_to_the_end() -> None:
    events = [
        event(1, "run.created", run("running")),
        event(2, "run.step_started", step("running")),
        event(3, "run.step_finished", step("completed", artifacts=[{"title": "TIN", "type": "tin"}])),
        event(4, "run.completed", run("completed")),
        event(5, "run.feedback_given", {"object": "feedback", "id": "f1"}),  # after the end: not streamed
    ]

    messages, finished = run_messages(events)

    assert finished
    assert [(m.id, m.kind) for m in messages] == [
        (f"evt_{1:042d}:0", "run_started"),
        (f"evt_{2:042d}:0", "step_started"),
        (f"evt_{3:042d}:0", "step_finished"),
        (f"evt_{3:042d}:1", "state_snapshot"),
        (f"evt_{4:042d}:0", "state_snapshot"),
        (f"evt_{4:042d}:1", "run_finished"),
    ]
    assert messages[3].snapshot == {
        **run("running"),
        "steps": [step("completed", artifacts=[{"title": "TIN", "type": "tin"}])],
    }
    assert messages[4].snapshot is not None and messages[4].snapshot["status"] == "completed"
    assert run_messages(events[:3]) == (messages[:4], False)


def test_a_window_is_an_event_stream_body_of_one_line_of_json_per_message() -> None:
    messages, _ = run_messages([event(1, "run.created", run("running")), event(2, "run.step_started", step("running"))])

    body = event_stream(StreamWindow(messages=messages, finished=False))

    blocks = body.split("\n\n")
    assert blocks[0] == "retry: 500" and blocks[-1] == "" and len(blocks) == 4
    lines = blocks[2].split("\n")
    assert lines[0] == f"id: evt_{2:042d}:0" and lines[1].startswith("data: ") and len(lines) == 2
    assert json.loads(lines[1].removeprefix("data: ")) == {
        "type": "STEP_STARTED",
        "timestamp": 1796198402000,
        "threadId": RUN,
        "runId": RUN,
        "run_id": RUN,
        "thread_id": RUN,
        "stepName": "tin_check",
        "step_id": "s1",
    }
    empty = event_stream(StreamWindow(messages=[], finished=False))
    assert empty.startswith("retry: 500\n\n: ") and "data:" not in empty


HARNESS = Path(__file__).resolve().parents[2] / "tools" / "agui"


def test_every_kind_of_message_is_valid_by_ag_ui_cores_own_schemas() -> None:
    # Given streams that make every kind of message: a run interrupted, resumed, given feedback and
    # completed; one that failed; one cancelled, its thread deleted
    failed = step("failed", error={"message": "TIN service down"})
    streams = [
        [
            event(1, "run.created", run("running")),
            event(2, "run.step_started", step("running")),
            event(3, "run.step_finished", step("completed", artifacts=[{"title": "TIN", "type": "tin"}])),
            event(4, "run.interrupted", run("interrupted")),
            event(5, "run.feedback_given", {"object": "feedback", "id": "f1", "rating": "positive"}),
            event(6, "run.resumed", run("running")),
            event(7, "run.completed", run("completed")),
        ],
        [
            event(1, "run.created", run("running")),
            event(2, "run.step_finished", failed),
            event(3, "run.completed", run("error")),
        ],
        [
            event(1, "run.created", run("running")),
            event(2, "thread.deleted", {"object": "thread", "id": RUN, "deleted": True}),
            event(3, "run.cancelled", run("cancelled")),
        ],
    ]
    wire = [agui_event(m).model_dump(mode="json") for events in streams for m in run_messages(events)[0]]
    kinds = {data["type"] for data in wire}
    assert kinds == {
        "RUN_STARTED",
        "STEP_STARTED",
        "STEP_FINISHED",
        "STATE_SNAPSHOT",
        "CUSTOM",
        "RUN_FINISHED",
        "RUN_ERROR",
    }
    node = shutil.which("node")
    if node is None or not (HARNESS / "node_modules").is_dir():
        pytest.fail("the AG-UI harness is not installed: make install-agui (node >= 20, npm)")

    # When @ag-ui/core checks each message's data
    checked = subprocess.run(
        [node, str(HARNESS / "validate.mjs")],
        input="".join(json.dumps(data) + "\n" for data in wire),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    # Then every one is valid, and parsing keeps Middesk's run_id beside AG-UI's fields
    results = [json.loads(line) for line in checked.stdout.splitlines()]
    assert [r["type"] for r in results] == [data["type"] for data in wire]
    assert [r for r in results if not r["valid"] or r["run_id"] != RUN] == []
    errors = [data for data in wire if data["type"] == "RUN_ERROR"]
    assert [(e["code"], e["message"]) for e in errors] == [
        ("error", "The run failed: TIN service down"),
        ("cancelled", "The run was cancelled"),
    ]


def test_a_window_ends_well_before_the_function_and_api_gateway_give_up() -> None:
    # API Gateway (REST) answers 504 after 29 s; the function must answer before its own timeout
    function = resources("AWS::Serverless::Function")["StreamRunFunction"]["Properties"]
    window = float(function["Environment"]["Variables"]["STREAM_WINDOW_SECONDS"])
    assert window + 5 <= int(function["Timeout"]) < 29


def test_a_run_without_run_created_still_opens_with_run_started() -> None:
    # Given a thread's run from before runs (its events start with a step)
    messages, _ = run_messages(
        [
            event(1, "run.step_started", step("running")),
            event(2, "run.step_finished", step("completed")),
            event(3, "run.completed", run("completed")),
        ]
    )

    # Then its first event opens the stream with RUN_STARTED, among its own messages
    assert [(m.id, m.kind) for m in messages] == [
        (f"evt_{1:042d}:0", "run_started"),
        (f"evt_{1:042d}:1", "step_started"),
        (f"evt_{2:042d}:0", "step_finished"),
        (f"evt_{2:042d}:1", "state_snapshot"),
        (f"evt_{3:042d}:0", "state_snapshot"),
        (f"evt_{3:042d}:1", "run_finished"),
    ]


def cancelled_at(number: int, kind: str, subject: dict[str, Any], at: int) -> Event:
    """An event of the change stamped ``at`` (a cancel's run and the steps it closed share it)."""
    made = event(number, kind, subject)
    stamp = f"2026-12-02T08:00:{at:02d}.000Z"
    body = {**json.loads(made.body), "created_at": stamp}
    return made.model_copy(update={"created_at": stamp, "body": json.dumps(body)})


def test_a_runs_end_recorded_before_the_steps_it_closed_waits_for_them() -> None:
    # Given a cancel whose run event the stream delivered before its closed step's (DynamoDB
    # Streams does not promise one transaction's order), then a later feedback
    events = [
        event(1, "run.created", run("running")),
        event(2, "run.step_started", step("waiting")),
        cancelled_at(3, "run.cancelled", run("cancelled"), at=9),
        cancelled_at(4, "run.step_finished", step("cancelled"), at=9),
        event(10, "run.feedback_given", {"object": "feedback", "id": "f1"}),
    ]

    # Then the step finishes first, and the run's end follows it, last
    messages, finished = run_messages(events)
    assert finished
    assert [(m.id, m.kind) for m in messages[2:]] == [
        (f"evt_{4:042d}:0", "step_finished"),
        (f"evt_{4:042d}:1", "state_snapshot"),
        (f"evt_{4:042d}:2", "run_error"),
    ]
    assert messages[-1].code == "cancelled"
    # and before the step's event is recorded, the stream has not ended (unless the end is old)
    assert run_messages(events[:3], now=parse_time("2026-12-02T08:00:30Z").timestamp()) == (messages[:2], False)
    late, ended = run_messages(events[:3], now=parse_time("2026-12-02T08:05:00Z").timestamp())
    assert ended and [(m.id, m.kind) for m in late[2:]] == [
        (f"evt_{2:042d}:1", "state_snapshot"),
        (f"evt_{2:042d}:2", "run_error"),
    ]


def test_a_window_stops_before_lambdas_response_limit_and_the_next_one_resumes(monkeypatch: pytest.MonkeyPatch) -> None:
    import threadline.api.native.agui as agui

    # Given a replay bigger than a window may be (here: 1,000 bytes)
    monkeypatch.setattr(agui, "MAX_WINDOW_BYTES", 1_000)
    messages, _ = run_messages(
        [event(n, "run.step_started", step("running", id=f"s{n}", name="x" * 200)) for n in range(1, 11)]
    )

    # Then a window holds what fits (at least one message), and resuming after its last holds the rest
    first = event_stream(StreamWindow(messages=messages, finished=False))
    sent = [line.removeprefix("id: ") for line in first.split("\n") if line.startswith("id: ")]
    assert 1 <= len(sent) < len(messages) and len(first.encode()) <= 1_000 + 100
    rest = [m for m in messages if m.position() > stream_position(sent[-1])]
    assert [m.id for m in messages] == sent + [m.id for m in rest]
