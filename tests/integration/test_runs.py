"""Runs (SPEC §3, "Run object"): POST /v1/runs, GET /v1/runs, GET /v1/runs/{id} and a run's
cancel, actions and feedback, end to end through the gateway on moto."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import threadline_agents.cip
from threadline import wiring
from threadline.models.limits import MAX_RUN_INPUT_BYTES
from threadline.models.workflow import AgentInput, AgentResult, RunRef
from threadline.store.plan import plan_execution, step_id
from threadline.workflow import agent_types as registry
from threadline_tools.gateway import Reply
from threadline_tools.provision import Deployment

from tests.conftest import (
    TIMESTAMP,
    Api,
    Keys,
    Seed,
    business_document,
    changes_nothing,
    error_body,
    invoke,
    key_id,
    load_event,
    poll,
    put_business,
    raw_thread_item,
    seed_steps,
    settle,
    start_thread,
    unchanged,
    wait_for_thread,
)

pytestmark = pytest.mark.usefixtures("stop_leftovers")

AGENT = "cip_orchestrator"
UNKNOWN = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"  # no run or thread has this id
RUN_SUMMARY_FIELDS = {
    "object",
    "id",
    "thread_id",
    "agent",
    "requester",
    "status",
    "created_at",
    "updated_at",
    "started_at",
    "ended_at",
    "interrupt_policy",
}
RUN_FIELDS = RUN_SUMMARY_FIELDS | {"input", "output", "interrupts", "steps", "feedback"}
FEEDBACK_FIELDS = {
    "object",
    "id",
    "run_id",
    "step_id",
    "artifact_type",
    "rating",
    "comment",
    "requester",
    "created_at",
}
CIP_STEPS = ["business_record", "tin_check", "address_check", "watchlist_screening", "decision"]


# ----- helpers ----------------------------------------------------------------------------------


def start_run(api: Api, key: str | None = None, **body: Any) -> Reply:
    """POST /v1/runs with ``body`` (the agent type given unless the body names one)."""
    return api.call("POST", "/v1/runs", body={"type": AGENT, **body}, key=key)


def started(api: Api, **body: Any) -> dict[str, Any]:
    """A run started by POST /v1/runs: the 201 body."""
    reply = start_run(api, **body)
    assert reply.status == 201, reply.body
    run: dict[str, Any] = reply.json()
    return run


def get_run(api: Api, run_id: str, key: str | None = None) -> Reply:
    return api.call("GET", f"/v1/runs/{run_id}", key=key)


def list_runs(api: Api, key: str | None = None, **query: Any) -> Reply:
    return api.call("GET", "/v1/runs", query=query, key=key)


def runs_of(api: Api, thread_id: str, **query: Any) -> list[dict[str, Any]]:
    """The runs of a thread, as GET /v1/runs?thread_id= lists them (one page of up to 100)."""
    reply = list_runs(api, thread_id=thread_id, per_page=100, **query)
    assert reply.status == 200, reply.body
    data: list[dict[str, Any]] = reply.json()["data"]
    return data


def wait_for_run(api: Api, deployment: Deployment, run: dict[str, Any], status: str) -> dict[str, Any]:
    """The run once its thread (whose status is its latest run's) is ``status``, as GET returns it."""
    thread_status = {"error": "failed"}.get(status, status)
    wait_for_thread(api, deployment, run["thread_id"], thread_status)
    reply = get_run(api, run["id"])
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.json()
    return body


def steps_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in body["steps"]}


def action(api: Api, run_id: str, key: str | None = None, **body: Any) -> Reply:
    return api.call("POST", f"/v1/runs/{run_id}/actions", body=body, key=key)


def feedback(api: Api, run_id: str, key: str | None = None, **body: Any) -> Reply:
    return api.call("POST", f"/v1/runs/{run_id}/feedback", body=body, key=key)


def no_run(run_id: str) -> dict[str, Any]:
    return error_body("not_found", f"No run with id {run_id}", "id")


def ids(runs: list[dict[str, Any]]) -> list[str]:
    return [run["id"] for run in runs]


@pytest.fixture
def finished_thread(api: Api, deployment: Deployment) -> dict[str, Any]:
    """A thread on the clean sample business whose first run completed."""
    created = start_thread(api, "clean")
    thread = wait_for_thread(api, deployment, created["id"], "completed")
    assert thread["status"] == "completed"
    return thread  # type: ignore[no-any-return]


@pytest.fixture
def waiting_run(api: Api, deployment: Deployment) -> dict[str, Any]:
    """A run started with a new thread on the suspicious sample business, waiting for a human."""
    put_business(api, "biz-suspicious", document=business_document("suspicious"))
    run = started(api, business_id="biz-suspicious")
    waiting = wait_for_run(api, deployment, run, "interrupted")
    assert steps_of(waiting)["human_review"]["status"] == "waiting"
    return waiting


@contextmanager
def held_decision(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The CIP decision agent holds until the yielded event is set (at the latest when the block ends)."""
    release = threading.Event()
    decide = threadline_agents.cip.decision

    def held(agent_input: AgentInput) -> AgentResult:
        release.wait(10)
        return decide(agent_input)

    monkeypatch.setattr(threadline_agents.cip, "decision", held)
    try:
        yield release
    finally:
        release.set()


# ----- the events files -------------------------------------------------------------------------


def events_thread(seed: Seed, deployment: Deployment, *, start: bool) -> str:
    """The events files' thread (from before runs: its one run is named after it), on the
    suspicious business; with ``start``, its run's execution started and waiting for a human."""
    thread_id = load_event("get_run.json")["pathParameters"]["run_id"]
    seed.business("biz_123", document=business_document("suspicious"))
    thread = seed.thread("acme", id=thread_id, context_id="biz_123")
    if start:
        wiring.workflow_runner().start(
            thread.id, plan_execution(thread, registry.CIP_ORCHESTRATOR, RunRef(id=thread.id, seq=0))
        )
        poll(lambda: raw_thread_item(deployment, "acme", thread_id)["status"]["S"], lambda s: s == "interrupted")
    return thread_id


def test_the_events_files_read_rate_and_answer_a_run(seed: Seed, deployment: Deployment) -> None:
    # Given the events files' run, waiting for a human at its review
    run_id = events_thread(seed, deployment, start=True)
    review_id = step_id(run_id, "human_review")
    assert json.loads(load_event("run_actions.json")["body"])["interrupt_id"] == review_id

    # When get_run, list_runs and run_feedback are handled
    got = invoke("get_run", load_event("get_run.json"))
    listed = invoke("list_runs", load_event("list_runs.json"))
    rated = invoke("run_feedback", load_event("run_feedback.json"))

    # Then the run reads with its pending interrupt, lists alone, and takes the feedback
    assert got["statusCode"] == 200, got["body"]
    run = json.loads(got["body"])
    assert set(run) == RUN_FIELDS
    assert (run["id"], run["thread_id"], run["status"]) == (run_id, run_id, "interrupted")
    assert [i["id"] for i in run["interrupts"]] == [review_id]
    assert listed["statusCode"] == 200, listed["body"]
    assert ids(json.loads(listed["body"])["data"]) == [run_id]
    assert rated["statusCode"] == 201, rated["body"]
    assert json.loads(rated["body"])["step_id"] == review_id
    assert json.loads(load_event("run_feedback.json")["body"])["step_id"] == review_id

    # When run_actions answers the interrupt
    answered = invoke("run_actions", load_event("run_actions.json"))

    # Then 200, and the run completes with the event's decision and note
    assert answered["statusCode"] == 200, answered["body"]
    assert settle(deployment) == [{"name": run_id, "status": "SUCCEEDED"}]
    done = json.loads(invoke("get_run", load_event("get_run.json"))["body"])
    review = steps_of(done)["human_review"]
    assert (done["status"], review["output"], review["resolution"]) == ("completed", {"decision": "approve"}, "human")
    assert review["artifacts"][0]["content"] == {
        "decision": "approve",
        "note": "Officer identity confirmed by phone.",
        "reviewer": "k3y1d0demo01",
    }
    assert [f["comment"] for f in done["feedback"]] == ["The review caught the mismatch."]


def test_the_events_files_cancel_a_run_and_start_another(seed: Seed, deployment: Deployment) -> None:
    # Given the events files' run, waiting for a human
    run_id = events_thread(seed, deployment, start=True)

    # When cancel_run is handled
    cancelled = invoke("cancel_run", load_event("cancel_run.json"))

    # Then the run is cancelled, and its execution aborted
    assert cancelled["statusCode"] == 200, cancelled["body"]
    assert json.loads(cancelled["body"])["status"] == "cancelled"
    assert settle(deployment) == [{"name": run_id, "status": "ABORTED"}]

    # When create_run starts another run of its thread
    created = invoke("create_run", load_event("create_run.json"))

    # Then 201 with the new run, running on the thread, with the event's input
    assert created["statusCode"] == 201, created["body"]
    run = json.loads(created["body"])
    sent = json.loads(load_event("create_run.json")["body"])
    assert (run["thread_id"], run["input"], run["interrupt_policy"]) == (run_id, sent["input"], "manual")
    assert run["id"] != run_id
    assert run["requester"] == {"type": "api_key", "id": "k3y1d0demo01", "name": "sample key"}
    poll(lambda: raw_thread_item(deployment, "acme", run_id)["status"]["S"], lambda s: s == "interrupted")


# ----- POST /v1/runs ------------------------------------------------------------------------------


def test_a_run_on_a_finished_thread_runs_it_again_and_keeps_the_old_steps(
    api: Api, deployment: Deployment, finished_thread: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a thread whose first run completed
    thread_id, first_steps = finished_thread["id"], finished_thread["steps"]
    [first] = runs_of(api, thread_id)
    assert (first["status"], {s["run_id"] for s in first_steps}) == ("completed", {first["id"]})

    with held_decision(monkeypatch) as release:
        # When another run of it starts (its decision held until released)
        reply = start_run(api, thread_id=thread_id, input={"reason": "amended filing"})

        # Then 201 with a new run of the thread, running, and the thread running again
        assert reply.status == 201, reply.body
        run = reply.json()
        assert set(run) == RUN_FIELDS
        assert run["id"] not in (first["id"], thread_id)
        assert (run["object"], run["thread_id"], run["agent"], run["status"], run["ended_at"]) == (
            "run",
            thread_id,
            AGENT,
            "running",
            None,
        )
        assert (run["input"], run["interrupt_policy"], run["interrupts"], run["feedback"]) == (
            {"reason": "amended filing"},
            "manual",
            [],
            [],
        )
        assert re.match(TIMESTAMP, run["created_at"]) and run["started_at"] == run["created_at"]
        assert run["created_at"] > first["created_at"]
        assert run["requester"] == {"type": "api_key", "id": key_id(api.key), "name": "test key of acme"}
        assert api.call("GET", f"/v1/threads/{thread_id}").json()["status"] == "running"
        assert get_run(api, first["id"]).json()["status"] == "completed"
        release.set()

    # When it completes
    done = wait_for_run(api, deployment, run, "completed")

    # Then the thread's steps are both runs' steps, each with its run's id, the first run's untouched
    thread = api.call("GET", f"/v1/threads/{thread_id}").json()
    assert thread["status"] == "completed"
    assert thread["steps"][: len(first_steps)] == first_steps
    later = thread["steps"][len(first_steps) :]
    assert [s["name"] for s in later] == CIP_STEPS
    assert {s["run_id"] for s in later} == {run["id"]}
    assert not {s["id"] for s in later} & {s["id"] for s in first_steps}
    assert done["steps"] == later
    assert done["output"] == {"artifacts": steps_of(done)["decision"]["artifacts"]}
    assert done["ended_at"] is not None and done["ended_at"] >= done["created_at"]
    # And both runs are listed, the first as it ended, and it still reads with its own steps
    assert runs_of(api, thread_id, direction="asc") == [first, {k: v for k, v in done.items() if k in first}]
    assert get_run(api, first["id"]).json()["steps"] == first_steps
    assert settle(deployment) == [{"name": thread_id, "status": "SUCCEEDED"}] * 2


def test_a_runs_input_reaches_its_agents(api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an agent that keeps what it is given
    seen: list[dict[str, Any]] = []
    original = threadline_agents.cip.decision

    def keeping(agent_input: AgentInput) -> AgentResult:
        seen.append(agent_input.input)
        return original(agent_input)

    monkeypatch.setattr(threadline_agents.cip, "decision", keeping)
    put_business(api, "biz-clean", document=business_document("clean"))

    # When a run starts with an input, then another on its thread without one
    first = start_run(api, business_id="biz-clean", input={"reason": "onboarding", "priority": 2}).json()
    wait_for_thread(api, deployment, first["thread_id"], "completed")
    again = start_run(api, thread_id=first["thread_id"])
    assert again.status == 201, again.body
    wait_for_thread(api, deployment, first["thread_id"], "completed")

    # Then each run's agents got its own input
    assert seen == [{"reason": "onboarding", "priority": 2}, {}]


def test_a_run_with_a_context_creates_its_thread(api: Api, deployment: Deployment) -> None:
    # Given a business
    put_business(api, "biz-clean", document=business_document("clean"))

    # When a run is started on it with the fields of a new thread
    reply = start_run(
        api,
        business_id="biz-clean",
        project_id="alpha",
        metadata={"source": "crm"},
        user_data="notes",
        input={"priority": 1},
    )

    # Then 201 with the run, whose new thread reads as POST /v1/threads would have made it
    assert reply.status == 201, reply.body
    run = reply.json()
    assert set(run) == RUN_FIELDS
    assert run["id"] != run["thread_id"]
    assert (run["status"], run["input"], run["interrupt_policy"]) == ("running", {"priority": 1}, "manual")
    got = api.call("GET", f"/v1/threads/{run['thread_id']}")
    assert got.status == 200, got.body
    thread = got.json()
    assert (thread["type"], thread["business_id"], thread["project_id"]) == (AGENT, "biz-clean", "alpha")
    assert (thread["metadata"], thread["user_data"], thread["requester"]) == (
        {"source": "crm"},
        "notes",
        run["requester"],
    )
    assert thread["created_at"] == run["created_at"]

    # And the run completes on it, its steps carrying its id
    done = wait_for_run(api, deployment, run, "completed")
    assert [s["name"] for s in done["steps"]] == CIP_STEPS
    assert {s["run_id"] for s in done["steps"]} == {run["id"]}
    assert ids(runs_of(api, run["thread_id"])) == [run["id"]]
    assert settle(deployment) == [{"name": run["thread_id"], "status": "SUCCEEDED"}]
    # And the thread's id names no run of it (only a thread from before runs has a run named after it)
    assert (get_run(api, run["thread_id"]).status, get_run(api, run["thread_id"]).json()) == (
        404,
        no_run(run["thread_id"]),
    )


def test_a_thread_runs_one_run_at_a_time(api: Api, deployment: Deployment, waiting_run: dict[str, Any]) -> None:
    # Given a run waiting for a human
    thread_id = waiting_run["thread_id"]

    with unchanged(deployment):
        # When another run of its thread is started
        reply = start_run(api, thread_id=thread_id)

    # Then 409 naming the active run, and nothing changes
    assert (reply.status, reply.json()) == (
        409,
        error_body("conflict", f"Run {waiting_run['id']} of thread {thread_id} is still interrupted", "thread_id"),
    )
    assert ids(runs_of(api, thread_id)) == [waiting_run["id"]]


def test_a_retried_run_with_its_idempotency_key_starts_nothing(
    api: Api, deployment: Deployment, finished_thread: dict[str, Any]
) -> None:
    # Given a run started with an Idempotency-Key, which completed
    body = {"type": AGENT, "thread_id": finished_thread["id"]}
    first = api.call("POST", "/v1/runs", body=body, headers={"Idempotency-Key": "rerun-1"})
    assert first.status == 201, first.body
    wait_for_run(api, deployment, first.json(), "completed")

    with changes_nothing(deployment):
        # When the same request is sent again with the key, and another request with it
        again = api.call("POST", "/v1/runs", body=body, headers={"Idempotency-Key": "rerun-1"})
        other = api.call("POST", "/v1/runs", body={**body, "input": {"a": 1}}, headers={"Idempotency-Key": "rerun-1"})

    # Then the first response comes back and nothing starts; the other request is a 422
    assert (again.status, again.body, again.headers["Idempotent-Replayed"]) == (201, first.body, "true")
    assert other.status == 422, other.body
    assert [(e["code"], e["parameter"]) for e in other.json()["errors"]] == [
        ("idempotency_key_reused", "Idempotency-Key")
    ]
    assert len(runs_of(api, finished_thread["id"])) == 2


@pytest.mark.parametrize(
    ("policy", "resolution", "output"),
    [("auto_approve", "auto_approved", {"decision": "approve"}), ("skip", "skipped", {"skipped": True})],
)
def test_a_runs_interrupt_policy_answers_its_review(
    api: Api, deployment: Deployment, policy: str, resolution: str, output: dict[str, Any]
) -> None:
    # Given a business whose run needs a human review
    put_business(api, "biz-suspicious", document=business_document("suspicious"))

    # When a run is started on it with a policy that answers the review itself
    run = started(api, business_id="biz-suspicious", interrupt_policy=policy)
    assert run["interrupt_policy"] == policy

    # Then it completes without waiting, the review answered by the policy
    done = wait_for_run(api, deployment, run, "completed")
    review = steps_of(done)["human_review"]
    assert (review["status"], review["resolution"], review["output"]) == ("completed", resolution, output)
    assert (done["status"], done["interrupts"], done["interrupt_policy"]) == ("completed", [], policy)


# ----- GET /v1/runs/{id} and the actions on a waiting run -------------------------------------


def test_a_waiting_run_shows_its_steps_output_and_pending_interrupt(
    api: Api, deployment: Deployment, waiting_run: dict[str, Any]
) -> None:
    # Given a run waiting for a human at its review (as GET /v1/runs/{id} answers it)
    run = waiting_run

    # Then it shows its steps, its output (the decision so far) and the review as a pending interrupt
    assert set(run) == RUN_FIELDS
    assert (run["status"], run["ended_at"], run["feedback"]) == ("interrupted", None, [])
    steps = steps_of(run)
    assert list(steps) == [*CIP_STEPS, "human_review"]
    assert {s["run_id"] for s in run["steps"]} == {run["id"]}
    decision = steps["decision"]
    assert run["output"] == {"artifacts": decision["artifacts"]}
    assert run["interrupts"] == [
        {
            "id": steps["human_review"]["id"],
            "agent": "human",
            "value": {
                "question": "Human review",
                "decisions": ["approve", "reject"],
                "proposed_decision": "approve",
                "artifacts": decision["artifacts"],
            },
        }
    ]
    # And its thread shows the same steps
    assert api.call("GET", f"/v1/threads/{run['thread_id']}").json()["steps"] == run["steps"]


def test_a_decision_completes_the_run_as_a_persons(
    api: Api, deployment: Deployment, waiting_run: dict[str, Any]
) -> None:
    # Given a run waiting for a human
    run_id, review = waiting_run["id"], steps_of(waiting_run)["human_review"]

    # When a person approves
    reply = action(api, run_id, type="decision", interrupt_id=review["id"], decision="approve", note="Other person")

    # Then 200 with the run, no longer waiting, and it completes with the person's decision
    assert reply.status == 200, reply.body
    answered = reply.json()
    assert set(answered) == RUN_FIELDS
    assert (answered["id"], answered["interrupts"]) == (run_id, [])
    assert answered["status"] in {"running", "completed"}  # the workflow resumes meanwhile
    done = wait_for_run(api, deployment, waiting_run, "completed")
    review = steps_of(done)["human_review"]
    assert (review["status"], review["resolution"], review["output"]) == ("completed", "human", {"decision": "approve"})
    assert review["artifacts"] == [
        {
            "title": "Human review",
            "type": "human_decision",
            "summary": "approve by test key of acme",
            "confidence": 1.0,
            "content": {"decision": "approve", "note": "Other person", "reviewer": key_id(api.key)},
        }
    ]
    assert done["output"] == {"artifacts": review["artifacts"]}
    assert done["ended_at"] is not None

    with changes_nothing(deployment):
        # When the answered interrupt, an activity step and an interrupt the run does not have are answered
        again = action(api, run_id, type="decision", interrupt_id=review["id"], decision="reject")
        activity_id = steps_of(done)["decision"]["id"]
        activity = action(api, run_id, type="decision", interrupt_id=activity_id, decision="reject")
        unknown = action(api, run_id, type="dismissal", interrupt_id=UNKNOWN)

    # Then 409 for the steps that do not wait, 404 for the unknown one, and nothing changes
    def not_waiting(step: str) -> tuple[int, dict[str, Any]]:
        return 409, error_body("conflict", f"Step {step} of this thread is not waiting for a decision", "interrupt_id")

    assert (again.status, again.json()) == not_waiting(review["id"])
    assert (activity.status, activity.json()) == not_waiting(activity_id)
    assert (unknown.status, unknown.json()) == (
        404,
        error_body("not_found", f"No interrupt with id {UNKNOWN} on this run", "interrupt_id"),
    )


def test_a_dismissal_closes_the_interrupt_without_a_decision(
    api: Api, deployment: Deployment, waiting_run: dict[str, Any]
) -> None:
    # Given a run waiting for a human
    review = steps_of(waiting_run)["human_review"]

    # When a person dismisses the review
    reply = action(api, waiting_run["id"], type="dismissal", interrupt_id=review["id"], note="Not needed")

    # Then the run completes, the review closed as dismissed, with no decision
    assert reply.status == 200, reply.body
    done = wait_for_run(api, deployment, waiting_run, "completed")
    review = steps_of(done)["human_review"]
    assert (review["status"], review["resolution"], review["output"]) == ("completed", "dismissed", {"dismissed": True})
    assert review["artifacts"] == [
        {
            "title": "Human review",
            "type": "human_dismissal",
            "summary": "dismissed by test key of acme",
            "content": {"note": "Not needed", "reviewer": key_id(api.key)},
        }
    ]
    assert settle(deployment) == [{"name": waiting_run["thread_id"], "status": "SUCCEEDED"}]


BAD_ACTIONS: list[tuple[str, dict[str, Any] | None, str | None, dict[str, Any]]] = [
    (
        "a decision without one",
        {"type": "decision", "interrupt_id": "{review}"},
        None,
        error_body("invalid_parameter", "decision is required with type decision", "decision"),
    ),
    (
        "a dismissal with a decision",
        {"type": "dismissal", "interrupt_id": "{review}", "decision": "approve"},
        None,
        error_body("invalid_parameter", "a dismissal gives no decision", "decision"),
    ),
    (
        "a decision the interrupt does not accept",
        {"type": "decision", "interrupt_id": "{review}", "decision": "maybe"},
        None,
        error_body("invalid_parameter", "decision must be one of: approve, reject", "decision"),
    ),
    (
        "an unknown type",
        {"type": "approval", "interrupt_id": "{review}", "decision": "approve"},
        None,
        error_body("invalid_parameter", "type: Input should be 'decision' or 'dismissal'", "type"),
    ),
    (
        "no interrupt_id",
        {"type": "decision", "decision": "approve"},
        None,
        error_body("invalid_parameter", "interrupt_id is required", "interrupt_id"),
    ),
    (
        "an interrupt_id that is not a string",
        {"type": "decision", "interrupt_id": 7, "decision": "approve"},
        None,
        error_body("invalid_parameter", "interrupt_id: Input should be a valid string", "interrupt_id"),
    ),
    (
        "a decision that is no decision's name",
        {"type": "decision", "interrupt_id": "{review}", "decision": "Approve!"},
        None,
        error_body("invalid_parameter", "decision: String should match pattern '^[a-z][a-z_]{0,63}$'", "decision"),
    ),
    (
        "a note too long",
        {"type": "decision", "interrupt_id": "{review}", "decision": "approve", "note": "x" * 4001},
        None,
        error_body("invalid_parameter", "note: String should have at most 4000 characters", "note"),
    ),
    (
        "an unknown field",
        {"type": "decision", "interrupt_id": "{review}", "decision": "approve", "reviewer": "me"},
        None,
        error_body("invalid_parameter", "reviewer is not a known parameter", "reviewer"),
    ),
    ("malformed JSON", None, '{"type": ', error_body("invalid_json", "Request body is not valid JSON")),
    ("an array", None, '[{"type": "dismissal"}]', error_body("invalid_json", "Request body must be a JSON object")),
    ("no body", None, None, error_body("invalid_parameter", "Request body is required")),
]


def test_a_bad_action_is_400_and_changes_nothing(api: Api, deployment: Deployment, waiting_run: dict[str, Any]) -> None:
    # Given a run waiting for a human
    review = steps_of(waiting_run)["human_review"]["id"]
    path = f"/v1/runs/{waiting_run['id']}/actions"

    def filled(body: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if body is None else {k: review if v == "{review}" else v for k, v in body.items()}

    with unchanged(deployment):
        # When bad actions are sent
        replies = {why: api.call("POST", path, body=filled(body), raw_body=raw) for why, body, raw, _ in BAD_ACTIONS}

    # Then each is a 400 naming what is wrong, and nothing changes (the review still waits)
    assert {why: (r.status, r.json()) for why, r in replies.items()} == {
        why: (400, expected) for why, _, _, expected in BAD_ACTIONS
    }


def test_cancelling_a_waiting_run_cancels_it_with_its_thread(
    api: Api, deployment: Deployment, waiting_run: dict[str, Any]
) -> None:
    # Given a run waiting for a human
    run_id, thread_id = waiting_run["id"], waiting_run["thread_id"]

    # When it is cancelled
    reply = api.call("POST", f"/v1/runs/{run_id}/cancel")

    # Then 200 with the run cancelled, its review closed, its thread cancelled and its execution aborted
    assert reply.status == 200, reply.body
    run = reply.json()
    assert set(run) == RUN_FIELDS
    assert (run["id"], run["status"], run["interrupts"]) == (run_id, "cancelled", [])
    assert run["ended_at"] is not None and run["ended_at"] >= waiting_run["updated_at"]
    assert steps_of(run)["human_review"]["status"] == "cancelled"
    assert api.call("GET", f"/v1/threads/{thread_id}").json()["status"] == "cancelled"
    assert settle(deployment) == [{"name": thread_id, "status": "ABORTED"}]
    assert get_run(api, run_id).json() == run

    with changes_nothing(deployment):
        # When it is cancelled again
        again = api.call("POST", f"/v1/runs/{run_id}/cancel")

    # Then 409, and nothing changes
    assert (again.status, again.json()) == (
        409,
        error_body("conflict", f"Run {run_id} has already finished (cancelled)", "id"),
    )


# ----- feedback -----------------------------------------------------------------------------------


def test_feedback_on_a_step_and_on_an_artifact_type_is_listed_on_the_run(
    api: Api, deployment: Deployment, finished_thread: dict[str, Any]
) -> None:
    # Given a completed run
    [run] = runs_of(api, finished_thread["id"])
    decision = steps_of(finished_thread)["decision"]

    # When it is rated on a step, and on a type of artifact
    on_step = feedback(api, run["id"], step_id=decision["id"], rating="negative", comment="Too strict")
    on_type = feedback(api, run["id"], artifact_type="tin_check", rating="positive")

    # Then 201 with each feedback as stored
    assert (on_step.status, on_type.status) == (201, 201), (on_step.body, on_type.body)
    requester = {"type": "api_key", "id": key_id(api.key), "name": "test key of acme"}
    given = on_step.json()
    assert set(given) == FEEDBACK_FIELDS
    assert given == {
        "object": "feedback",
        "id": given["id"],
        "run_id": run["id"],
        "step_id": decision["id"],
        "artifact_type": None,
        "rating": "negative",
        "comment": "Too strict",
        "requester": requester,
        "created_at": given["created_at"],
    }
    assert re.match(TIMESTAMP, given["created_at"])
    assert (on_type.json()["artifact_type"], on_type.json()["step_id"], on_type.json()["comment"]) == (
        "tin_check",
        None,
        None,
    )
    # And the run lists both, in the order given (its other fields unchanged)
    got = get_run(api, run["id"]).json()
    assert got["feedback"] == [given, on_type.json()]
    assert {k: v for k, v in got.items() if k in run} == run


BAD_FEEDBACK: list[tuple[str, dict[str, Any], int, dict[str, Any]]] = [
    (
        "both a step and an artifact type",
        {"step_id": "{decision}", "artifact_type": "tin_check", "rating": "positive"},
        400,
        error_body("invalid_parameter", "give either artifact_type or step_id, not both", "step_id"),
    ),
    (
        "neither",
        {"rating": "positive", "comment": "good"},
        400,
        error_body("invalid_parameter", "artifact_type or step_id is required", "artifact_type"),
    ),
    (
        "a step the run does not have",
        {"step_id": UNKNOWN, "rating": "positive"},
        404,
        error_body("not_found", f"No step with id {UNKNOWN} on this run", "step_id"),
    ),
    (
        "an artifact type the run does not have",
        {"artifact_type": "human_decision", "rating": "positive"},
        404,
        error_body("not_found", "No artifact of type human_decision on this run", "artifact_type"),
    ),
    (
        "an unknown rating",
        {"step_id": "{decision}", "rating": "meh"},
        400,
        error_body("invalid_parameter", "rating: Input should be 'positive' or 'negative'", "rating"),
    ),
    (
        "no rating",
        {"step_id": "{decision}"},
        400,
        error_body("invalid_parameter", "rating is required", "rating"),
    ),
    (
        "a comment too long",
        {"step_id": "{decision}", "rating": "positive", "comment": "x" * 4001},
        400,
        error_body("invalid_parameter", "comment: String should have at most 4000 characters", "comment"),
    ),
    (
        "a step id that is not a string",
        {"step_id": ["{decision}"], "rating": "positive"},
        400,
        error_body("invalid_parameter", "step_id: Input should be a valid string", "step_id"),
    ),
    (
        "an unknown field",
        {"step_id": "{decision}", "rating": "positive", "score": 5},
        400,
        error_body("invalid_parameter", "score is not a known parameter", "score"),
    ),
]


def test_bad_feedback_is_refused_and_changes_nothing(
    api: Api, deployment: Deployment, finished_thread: dict[str, Any]
) -> None:
    # Given a completed run
    [run] = runs_of(api, finished_thread["id"])
    decision = steps_of(finished_thread)["decision"]["id"]

    def filled(body: dict[str, Any]) -> dict[str, Any]:
        return {k: decision if v == "{decision}" else v for k, v in body.items()}

    with changes_nothing(deployment):
        # When bad feedback is given
        replies = {why: feedback(api, run["id"], **filled(body)) for why, body, _, _ in BAD_FEEDBACK}

    # Then each is refused naming what is wrong, and nothing is stored
    assert {why: (r.status, r.json()) for why, r in replies.items()} == {
        why: (status, expected) for why, _, status, expected in BAD_FEEDBACK
    }
    assert get_run(api, run["id"]).json()["feedback"] == []


# ----- GET /v1/runs: a thread's runs --------------------------------------------------------------


@pytest.fixture
def three_runs(api: Api, deployment: Deployment) -> tuple[str, list[dict[str, Any]]]:
    """A thread on the suspicious business with three runs, oldest first: cancelled while it
    waited, completed (auto_approve), and waiting for a human."""
    put_business(api, "biz-suspicious", document=business_document("suspicious"))
    first = wait_for_run(api, deployment, started(api, business_id="biz-suspicious"), "interrupted")
    assert api.call("POST", f"/v1/runs/{first['id']}/cancel").status == 200
    thread_id = first["thread_id"]
    second = started(api, thread_id=thread_id, interrupt_policy="auto_approve")
    wait_for_run(api, deployment, second, "completed")
    third = wait_for_run(api, deployment, started(api, thread_id=thread_id), "interrupted")
    runs = [get_run(api, run["id"]).json() for run in (first, second, third)]
    assert [(r["status"], r["interrupt_policy"]) for r in runs] == [
        ("cancelled", "manual"),
        ("completed", "auto_approve"),
        ("interrupted", "manual"),
    ]
    return thread_id, runs


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """A run as GET /v1/runs lists it."""
    return {k: v for k, v in run.items() if k in RUN_SUMMARY_FIELDS}


def test_a_threads_runs_are_listed_filtered_and_paged(api: Api, three_runs: tuple[str, list[dict[str, Any]]]) -> None:
    # Given a thread with three runs
    thread_id, (first, second, third) = three_runs

    # When its runs are listed
    reply = list_runs(api, thread_id=thread_id)

    # Then newest first, as summaries, counted
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body == {
        "object": "list",
        "data": [summary(third), summary(second), summary(first)],
        "has_more": False,
        "total_count": 3,
        "next_cursor": None,
    }
    assert set(body["data"][0]) == RUN_SUMMARY_FIELDS

    # And filtered by status and agent type
    def listed(**query: Any) -> tuple[list[str], int | None]:
        found = list_runs(api, thread_id=thread_id, **query)
        assert found.status == 200, found.body
        return ids(found.json()["data"]), found.json()["total_count"]

    assert listed(status="cancelled") == ([first["id"]], 1)
    assert listed(status="completed") == ([second["id"]], 1)
    assert listed(status="interrupted") == ([third["id"]], 1)
    assert listed(status="error") == ([], 0)
    assert listed(agent=AGENT) == ([third["id"], second["id"], first["id"]], 3)
    assert listed(agent="review_only") == ([], 0)
    assert listed(direction="asc") == ([first["id"], second["id"], third["id"]], 3)
    by_update = sorted((first, second, third), key=lambda r: r["updated_at"], reverse=True)
    assert listed(sort="updated_at") == (ids(by_update), 3)

    # And paged Middesk's way (counted), and by cursor (not counted)
    page_1 = list_runs(api, thread_id=thread_id, per_page=2).json()
    page_2 = list_runs(api, thread_id=thread_id, per_page=2, page=2).json()
    assert (ids(page_1["data"]), page_1["has_more"], page_1["total_count"], page_1["next_cursor"]) == (
        [third["id"], second["id"]],
        True,
        3,
        None,
    )
    assert (ids(page_2["data"]), page_2["has_more"], page_2["total_count"]) == ([first["id"]], False, 3)
    head = list_runs(api, thread_id=thread_id, limit=2).json()
    assert (ids(head["data"]), head["has_more"], head["total_count"]) == ([third["id"], second["id"]], True, None)
    assert head["next_cursor"]
    tail = list_runs(api, thread_id=thread_id, limit=2, cursor=head["next_cursor"]).json()
    assert (ids(tail["data"]), tail["has_more"], tail["next_cursor"]) == ([first["id"]], False, None)


def test_an_interrupt_of_another_run_of_the_thread_is_not_this_runs(
    api: Api, deployment: Deployment, three_runs: tuple[str, list[dict[str, Any]]]
) -> None:
    # Given a thread whose latest run waits at its review, and an earlier run of it
    _, (first, second, third) = three_runs
    waiting = steps_of(third)["human_review"]["id"]

    with unchanged(deployment):
        # When the waiting review is answered, and rated, through the earlier run
        reply = action(api, second["id"], type="decision", interrupt_id=waiting, decision="approve")
        rated = feedback(api, first["id"], step_id=waiting, rating="positive")

    # Then 404: it is not that run's
    assert (reply.status, reply.json()) == (
        404,
        error_body("not_found", f"No interrupt with id {waiting} on this run", "interrupt_id"),
    )
    assert (rated.status, rated.json()) == (
        404,
        error_body("not_found", f"No step with id {waiting} on this run", "step_id"),
    )


# ----- GET /v1/runs: across the org (RunStore.list_runs) ------------------------------------------


@pytest.fixture
def org_runs(api: Api, deployment: Deployment, keys: Keys) -> dict[str, Any]:
    """Runs of org acme, oldest first: a thread's first run and its re-run (both completed), another
    thread's run waiting for a human; and a run of org globex."""
    put_business(api, "biz-clean", document=business_document("clean"))
    put_business(api, "biz-suspicious", document=business_document("suspicious"))
    first = wait_for_run(api, deployment, started(api, business_id="biz-clean"), "completed")
    rerun = started(api, thread_id=first["thread_id"], interrupt_policy="skip")
    rerun = wait_for_run(api, deployment, rerun, "completed")
    waiting = wait_for_run(api, deployment, started(api, business_id="biz-suspicious"), "interrupted")
    globex = keys.create("globex")
    put_business(api, "biz-clean", key=globex, document=business_document("clean"))
    theirs = start_run(api, key=globex, business_id="biz-clean", interrupt_policy="skip").json()
    wait_for_thread(api, deployment, theirs["thread_id"], "completed", org_id="globex")
    return {"acme": [first, rerun, waiting], "globex": globex, "theirs": theirs}


def test_list_runs_across_the_org_lists_its_runs_newest_first(api: Api, org_runs: dict[str, Any]) -> None:
    # Given the org's runs on two threads
    first, rerun, waiting = org_runs["acme"]

    # When its runs are listed with no filter
    reply = list_runs(api)

    # Then all three, newest first, as summaries, counted
    assert reply.status == 200, reply.body
    assert reply.json() == {
        "object": "list",
        "data": [summary(waiting), summary(rerun), summary(first)],
        "has_more": False,
        "total_count": 3,
        "next_cursor": None,
    }


def test_list_runs_across_the_org_filters_by_status_and_agent(api: Api, org_runs: dict[str, Any]) -> None:
    first, rerun, waiting = org_runs["acme"]

    def listed(**query: Any) -> tuple[list[str], int | None]:
        found = list_runs(api, **query)
        assert found.status == 200, found.body
        return ids(found.json()["data"]), found.json()["total_count"]

    assert listed(status="completed") == ([rerun["id"], first["id"]], 2)
    assert listed(status="interrupted") == ([waiting["id"]], 1)
    assert listed(status="cancelled") == ([], 0)
    assert listed(agent=AGENT) == ([waiting["id"], rerun["id"], first["id"]], 3)
    assert listed(agent="review_only") == ([], 0)
    assert listed(agent=AGENT, status="completed", direction="asc") == ([first["id"], rerun["id"]], 2)


def test_list_runs_across_the_org_pages_and_sorts(api: Api, org_runs: dict[str, Any]) -> None:
    first, rerun, waiting = org_runs["acme"]

    page_1 = list_runs(api, per_page=2).json()
    page_2 = list_runs(api, per_page=2, page=2).json()
    assert (ids(page_1["data"]), page_1["has_more"], page_1["total_count"]) == ([waiting["id"], rerun["id"]], True, 3)
    assert (ids(page_2["data"]), page_2["has_more"], page_2["total_count"]) == ([first["id"]], False, 3)

    head = list_runs(api, limit=2).json()
    assert (ids(head["data"]), head["has_more"], head["total_count"]) == ([waiting["id"], rerun["id"]], True, None)
    tail = list_runs(api, limit=2, cursor=head["next_cursor"]).json()
    assert (ids(tail["data"]), tail["has_more"], tail["next_cursor"]) == ([first["id"]], False, None)

    assert ids(list_runs(api, direction="asc").json()["data"]) == [first["id"], rerun["id"], waiting["id"]]
    by_update = sorted((first, rerun, waiting), key=lambda r: r["updated_at"], reverse=True)
    assert ids(list_runs(api, sort="updated_at").json()["data"]) == ids(by_update)


def test_list_runs_across_the_org_shows_each_tenant_its_own(api: Api, keys: Keys, org_runs: dict[str, Any]) -> None:
    # Given runs of acme (project default) and of globex
    theirs = org_runs["theirs"]

    # When globex, and an acme key restricted to another project, list runs
    other_org = list_runs(api, key=org_runs["globex"])
    other_project = list_runs(api, key=keys.create(project_id="beta"))

    # Then each sees its own runs only
    assert (other_org.status, ids(other_org.json()["data"]), other_org.json()["total_count"]) == (
        200,
        [theirs["id"]],
        1,
    )
    assert (other_project.status, other_project.json()["data"], other_project.json()["total_count"]) == (200, [], 0)


def test_list_runs_across_the_org_includes_threads_from_before_runs(api: Api, seed: Seed) -> None:
    # Given a thread from before runs (one run, named after it)
    thread = seed.thread(status="completed")

    # When the org's runs are listed
    reply = list_runs(api)

    # Then that run is listed, as GET /v1/runs/{id} reads it
    assert reply.status == 200, reply.body
    assert reply.json()["data"] == [summary(get_run(api, thread.id).json())]


def test_list_runs_across_the_org_leaves_out_deleted_threads(
    api: Api, deployment: Deployment, finished_thread: dict[str, Any]
) -> None:
    # Given a run whose thread is deleted
    assert api.call("DELETE", f"/v1/threads/{finished_thread['id']}").status == 200

    # When the org's runs are listed, Then it is not
    reply = list_runs(api)
    assert (reply.status, reply.json()["data"], reply.json()["total_count"]) == (200, [], 0)


# ----- threads from before runs -----------------------------------------------------------------


def test_a_thread_from_before_runs_reads_as_one_run(api: Api, deployment: Deployment, seed: Seed) -> None:
    # Given a completed thread stored as before runs (its one run named after it), with its steps
    seed.business("biz-1", document=business_document("clean"))
    thread = seed.thread(status="completed", context_id="biz-1")
    seed_steps(thread, dict.fromkeys(CIP_STEPS, "completed"))

    # When its run is read, and its thread's runs listed
    got = get_run(api, thread.id)
    listed = runs_of(api, thread.id)

    # Then it is one run, named after the thread, with the thread's steps
    assert got.status == 200, got.body
    run = got.json()
    assert set(run) == RUN_FIELDS
    assert (run["id"], run["thread_id"], run["agent"], run["status"]) == (thread.id, thread.id, AGENT, "completed")
    assert (run["created_at"], run["started_at"], run["ended_at"]) == (
        thread.created_at,
        thread.created_at,
        thread.updated_at,
    )
    assert (run["interrupt_policy"], run["input"], run["requester"]) == (
        "manual",
        None,
        {"type": "api_key", "id": "seedkey00000", "name": "seed"},
    )
    assert [s["name"] for s in run["steps"]] == CIP_STEPS
    assert {s["run_id"] for s in run["steps"]} == {thread.id}
    assert run["steps"] == api.call("GET", f"/v1/threads/{thread.id}").json()["steps"]
    assert run["output"] == {"artifacts": steps_of(run)["decision"]["artifacts"]}
    assert listed == [summary(run)]

    # When another run of it starts and completes
    rerun = wait_for_run(api, deployment, started(api, thread_id=thread.id), "completed")

    # Then both are listed, the first as it was, and it still reads with its own steps
    assert runs_of(api, thread.id, direction="asc") == [summary(run), summary(rerun)]
    assert get_run(api, thread.id).json() == run
    assert {s["run_id"] for s in rerun["steps"]} == {rerun["id"]}
    thread_steps = api.call("GET", f"/v1/threads/{thread.id}").json()["steps"]
    assert thread_steps == run["steps"] + rerun["steps"]


# ----- bad input --------------------------------------------------------------------------------


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


# (why, body or None, raw body or None, status, expected error); "{thread}" is a completed thread of the caller's.
BAD_CREATES: list[tuple[str, dict[str, Any] | None, str | None, int, dict[str, Any]]] = [
    ("malformed JSON", None, '{"type": ', 400, error_body("invalid_json", "Request body is not valid JSON")),
    (
        "an array",
        None,
        '[{"type": "cip_orchestrator", "business_id": "biz-1"}]',
        400,
        error_body("invalid_json", "Request body must be a JSON object"),
    ),
    ("no body", None, None, 400, error_body("invalid_parameter", "Request body is required")),
    (
        "an unknown field",
        {"type": AGENT, "business_id": "biz-1", "priority": 1},
        None,
        400,
        error_body("invalid_parameter", "priority is not a known parameter", "priority"),
    ),
    ("no type", {"business_id": "biz-1"}, None, 400, error_body("invalid_parameter", "type is required", "type")),
    (
        "a type that is not a string",
        {"type": 1, "business_id": "biz-1"},
        None,
        400,
        error_body("invalid_parameter", "type: Input should be a valid string", "type"),
    ),
    (
        "an unknown agent type",
        {"type": "nope", "business_id": "biz-1"},
        None,
        400,
        error_body("invalid_parameter", f"Unknown agent type 'nope'; known types: {AGENT}", "type"),
    ),
    (
        "an unknown interrupt policy",
        {"type": AGENT, "business_id": "biz-1", "interrupt_policy": "approve"},
        None,
        400,
        error_body(
            "invalid_parameter",
            "interrupt_policy: Input should be 'manual', 'auto_approve' or 'skip'",
            "interrupt_policy",
        ),
    ),
    (
        "an input that is an array",
        {"type": AGENT, "business_id": "biz-1", "input": [1, 2]},
        None,
        400,
        error_body("invalid_parameter", "input: Input should be a valid dictionary", "input"),
    ),
    (
        "an input that is a string",
        {"type": AGENT, "business_id": "biz-1", "input": "{}"},
        None,
        400,
        error_body("invalid_parameter", "input: Input should be a valid dictionary", "input"),
    ),
    (
        "an input too large",
        {"type": AGENT, "business_id": "biz-1", "input": {"blob": "x" * MAX_RUN_INPUT_BYTES}},
        None,
        400,
        error_body("invalid_parameter", f"input must be at most {MAX_RUN_INPUT_BYTES} bytes as JSON", "input"),
    ),
    (
        "an input nested too deeply",
        {"type": AGENT, "business_id": "biz-1", "input": _deep(33)},
        None,
        400,
        error_body("invalid_parameter", "input may nest at most 32 levels deep", "input"),
    ),
    (
        "an input with a number JSON cannot carry",
        None,
        '{"type": "cip_orchestrator", "business_id": "biz-1", "input": {"x": NaN}}',
        400,
        error_body("invalid_parameter", "input numbers must be finite", "input"),
    ),
    (
        "no thread and no context",
        {"type": AGENT, "input": {"a": 1}},
        None,
        400,
        error_body("invalid_parameter", "business_id, or context_type and context_id, is required", "business_id"),
    ),
    (
        "a thread and a context",
        {"type": AGENT, "thread_id": "{thread}", "business_id": "biz-1"},
        None,
        400,
        error_body(
            "invalid_parameter",
            "business_id makes a new thread: give it without thread_id (PATCH the thread to change it)",
            "business_id",
        ),
    ),
    (
        "a thread and metadata",
        {"type": AGENT, "thread_id": "{thread}", "metadata": {"a": 1}},
        None,
        400,
        error_body(
            "invalid_parameter",
            "metadata makes a new thread: give it without thread_id (PATCH the thread to change it)",
            "metadata",
        ),
    ),
    (
        "a thread of another agent type",
        {"type": "nope", "thread_id": "{thread}"},
        None,
        400,
        error_body("invalid_parameter", "Thread {thread} runs cip_orchestrator; a run of it is of that type", "type"),
    ),
    (
        "a thread id that is not a string",
        {"type": AGENT, "thread_id": 5},
        None,
        400,
        error_body("invalid_parameter", "thread_id: Input should be a valid string", "thread_id"),
    ),
    (
        "a thread that does not exist",
        {"type": AGENT, "thread_id": UNKNOWN},
        None,
        404,
        error_body("not_found", f"No thread with id {UNKNOWN}", "thread_id"),
    ),
    (
        "a thread id that is no thread's",
        {"type": AGENT, "thread_id": "thread-1"},
        None,
        404,
        error_body("not_found", "No thread with id thread-1", "thread_id"),
    ),
    (
        "a business that does not exist",
        {"type": AGENT, "business_id": "biz-nobody"},
        None,
        404,
        error_body("not_found", "No business with id biz-nobody", "business_id"),
    ),
]


def _filled(value: Any, thread_id: str) -> Any:
    if isinstance(value, str):
        return value.replace("{thread}", thread_id)
    if isinstance(value, dict):
        return {k: _filled(v, thread_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, thread_id) for v in value]
    return value


def test_a_bad_run_is_refused_and_changes_nothing(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given a business and a completed thread of the caller's on it
    seed.business("biz-1")
    thread = seed.thread(status="completed", context_id="biz-1")

    with changes_nothing(deployment):
        # When bad runs are asked for
        replies = {
            why: api.call("POST", "/v1/runs", body=_filled(body, thread.id), raw_body=raw)
            for why, body, raw, _, _ in BAD_CREATES
        }

    # Then each is refused naming what is wrong, and nothing is written or started
    assert {why: (r.status, r.json()) for why, r in replies.items()} == {
        why: (status, _filled(expected, thread.id)) for why, _, _, status, expected in BAD_CREATES
    }


BAD_QUERIES: list[tuple[dict[str, Any], str, str]] = [
    ({"status": "failed"}, "status", "status: Input should be"),
    ({"per_page": 0}, "per_page", "per_page: Input should be greater than or equal to 1"),
    ({"per_page": 101}, "per_page", "per_page: Input should be less than or equal to 100"),
    ({"page": 0}, "page", "page: Input should be greater than or equal to 1"),
    ({"limit": "ten"}, "limit", "limit: Input should be a valid integer"),
    ({"page": 2, "cursor": "abc"}, "cursor", "cursor pages with limit; page pages with per_page"),
    ({"limit": 5, "per_page": 5}, "limit", "limit pages with cursor; page pages with per_page"),
    ({"sort": "name"}, "sort", "sort: Input should be 'created_at' or 'updated_at'"),
    ({"direction": "up"}, "direction", "direction: Input should be 'asc' or 'desc'"),
    ({"type": AGENT}, "type", "type is not a known query parameter"),
    ({"thread_id": "x" * 129}, "thread_id", "thread_id: String should have at most 128 characters"),
    ({"thread_id": "{thread}", "limit": 1, "cursor": "not-a-cursor"}, "cursor", "cursor is not a next_cursor"),
]


def test_a_bad_run_list_query_is_400(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given a thread of the caller's
    thread = seed.thread(status="completed")

    with changes_nothing(deployment):
        # When runs are listed with bad queries
        replies = [(query, list_runs(api, **_filled(query, thread.id))) for query, _, _ in BAD_QUERIES]

    # Then each is a 400 naming the parameter
    for (query, reply), (_, parameter, message) in zip(replies, BAD_QUERIES, strict=True):
        assert reply.status == 400, (query, reply.body)
        [error] = reply.json()["errors"]
        assert (error["code"], error["parameter"]) == ("invalid_parameter", parameter), query
        assert error["message"].startswith(message), (query, error["message"])


def test_a_filter_naming_no_thread_of_the_callers_lists_nothing(api: Api, seed: Seed) -> None:
    # Given a thread of another org
    theirs = seed.thread("globex", status="completed")

    # When runs are listed by it, by an unknown thread and by an id that is no thread's
    for thread_id in (theirs.id, UNKNOWN, "thread-1"):
        reply = list_runs(api, thread_id=thread_id)

        # Then the list is empty, never an error
        assert (reply.status, reply.json()) == (
            200,
            {"object": "list", "data": [], "has_more": False, "total_count": 0, "next_cursor": None},
        ), thread_id


RUN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("POST", "/cancel", None),
    ("POST", "/actions", {"type": "dismissal", "interrupt_id": UNKNOWN}),
    ("POST", "/feedback", {"artifact_type": "decision", "rating": "positive"}),
]


@pytest.mark.parametrize(
    "run_id", [UNKNOWN, UNKNOWN.upper(), "not-a-run", "x" * 300, "%20", "0" * 36], ids=lambda v: v[:40]
)
def test_a_run_id_of_no_run_is_404_on_every_run_route(
    api: Api, seed: Seed, deployment: Deployment, run_id: str
) -> None:
    # Given a thread (so that the store holds something to be found by mistake)
    seed.thread(status="completed")

    with changes_nothing(deployment):
        # When each run route is called with an id that names no run
        replies = [api.call(method, f"/v1/runs/{run_id}{suffix}", body=body) for method, suffix, body in RUN_ROUTES]

    # Then each is the same 404, naming the id
    shown = " " if run_id == "%20" else run_id
    for (method, suffix, _), reply in zip(RUN_ROUTES, replies, strict=True):
        assert (reply.status, reply.json()) == (404, no_run(shown[:64])), (method, suffix)


def test_another_tenants_runs_are_404_and_change_nothing(
    api: Api, keys: Keys, deployment: Deployment, waiting_run: dict[str, Any]
) -> None:
    # Given a run of acme's (project default) waiting for a human
    run_id, thread_id = waiting_run["id"], waiting_run["thread_id"]
    review = steps_of(waiting_run)["human_review"]["id"]
    bodies = {
        "/actions": {"type": "decision", "interrupt_id": review, "decision": "approve"},
        "/feedback": {"step_id": review, "rating": "positive"},
    }
    other_org, other_project = keys.create("globex"), keys.create(project_id="beta")

    for key in (other_org, other_project):
        with unchanged(deployment):
            # When a key of another org, or of another project, calls every run route on it
            replies = {
                suffix: api.call(method, f"/v1/runs/{run_id}{suffix}", body=bodies.get(suffix), key=key)
                for method, suffix, _ in RUN_ROUTES
            }
            absent = {
                suffix: api.call(method, f"/v1/runs/{UNKNOWN}{suffix}", body=bodies.get(suffix), key=key)
                for method, suffix, _ in RUN_ROUTES
            }
            rerun = start_run(api, key=key, thread_id=thread_id)
            listed = list_runs(api, key=key, thread_id=thread_id)

        # Then each is the 404 of a run that does not exist, a run of the thread a 404 naming
        # thread_id, its list empty; and nothing changes
        for suffix, reply in replies.items():
            assert (reply.status, reply.json()) == (404, no_run(run_id)), suffix
            assert reply.body == absent[suffix].body.replace(UNKNOWN, run_id), suffix
        missing_thread = error_body("not_found", f"No thread with id {thread_id}", "thread_id")
        assert (rerun.status, rerun.json()) == (404, missing_thread)
        assert (listed.status, listed.json()["data"], listed.json()["total_count"]) == (200, [], 0)


def test_a_read_only_key_reads_runs_and_changes_none(
    api: Api, keys: Keys, deployment: Deployment, waiting_run: dict[str, Any]
) -> None:
    # Given a run waiting for a human, and a read-only key of its org
    reader = keys.create(scopes=("read",))
    run_id = waiting_run["id"]
    review = steps_of(waiting_run)["human_review"]["id"]

    with unchanged(deployment):
        # When it reads the run and its thread's runs, and tries every write
        read = get_run(api, run_id, key=reader)
        listed = list_runs(api, key=reader, thread_id=waiting_run["thread_id"])
        writes = [
            start_run(api, key=reader, thread_id=waiting_run["thread_id"]),
            api.call("POST", f"/v1/runs/{run_id}/cancel", key=reader),
            action(api, run_id, key=reader, type="decision", interrupt_id=review, decision="approve"),
            feedback(api, run_id, key=reader, step_id=review, rating="positive"),
        ]

    # Then it reads as the owner does; every write is a 403, and nothing changes
    assert (read.status, read.json()) == (200, waiting_run)
    assert ids(listed.json()["data"]) == [run_id]
    forbidden = error_body("forbidden", "This API key lacks the 'write' scope")
    assert [(w.status, w.json()) for w in writes] == [(403, forbidden)] * 4
