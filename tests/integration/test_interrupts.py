"""Interrupt steps: POST /v1/threads/{id}/steps/{step_id}/resolve, and the wait's timeout."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from threadline import clients, wiring
from threadline.logic.cancel_thread import cancel_thread
from threadline.models.agent_types import AgentType, StepDefinition
from threadline.models.domain import Tenant
from threadline.models.workflow import RunRef
from threadline.store.plan import plan_execution, step_id
from threadline.workflow import agent_types as registry
from threadline.workflow.executions import WorkflowRunner
from threadline_tools.provision import Deployment

from tests.conftest import (
    Api,
    Keys,
    Seed,
    business_document,
    describe_execution,
    error_body,
    execution_arn,
    invoke,
    key_id,
    load_event,
    poll,
    put_business,
    raw_thread_item,
    reconcile,
    settle,
    start_thread,
    unchanged,
    wait_for_thread,
)

pytestmark = pytest.mark.usefixtures("stop_leftovers")


def steps_of(thread: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in thread["steps"]}


def resolve_path(thread_id: str, step: str) -> str:
    return f"/v1/threads/{thread_id}/steps/{step}/resolve"


def not_waiting(step: str) -> dict[str, Any]:
    return error_body("conflict", f"Step {step} of this thread is not waiting for a decision", "step_id")


# A record check, then a person decides: the resolve route's errors without the whole CIP's run.
REVIEW_ONLY = AgentType(
    name="review_only",
    description="Checks the business record, then waits for a person.",
    context_types=("business",),
    steps=(
        StepDefinition("business_record", "Business record completeness", agent="cip.business_record"),
        StepDefinition("human_review", "Human review", agent="human", type="interrupt", parent="business_record"),
    ),
)


@pytest.fixture
def quick_waiting(api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A thread of the ``review_only`` agent type, interrupted at its human review."""
    monkeypatch.setitem(registry.AGENT_TYPES, REVIEW_ONLY.name, REVIEW_ONLY)
    put_business(api, "biz-1")
    created = api.call("POST", "/v1/threads", body={"type": REVIEW_ONLY.name, "business_id": "biz-1"}).json()
    thread = wait_for_thread(api, deployment, created["id"], "interrupted")
    assert [(s["name"], s["status"]) for s in thread["steps"]] == [
        ("business_record", "completed"),
        ("human_review", "waiting"),
    ]
    return thread  # type: ignore[no-any-return]


@pytest.fixture
def waiting(api: Api, deployment: Deployment) -> dict[str, Any]:
    """A thread on the suspicious sample business, interrupted at its human review."""
    created = start_thread(api, "suspicious")
    thread = wait_for_thread(api, deployment, created["id"], "interrupted")
    assert steps_of(thread)["human_review"]["status"] == "waiting"
    return thread  # type: ignore[no-any-return]


def test_the_events_file_resolves_the_waiting_step(seed: Seed, deployment: Deployment) -> None:
    # Given the events file's thread, waiting at its human review
    event = load_event("resolve_step.json")
    thread_id, review_id = event["pathParameters"]["thread_id"], event["pathParameters"]["step_id"]
    seed.business("biz_123", document=business_document("suspicious"))
    thread = seed.thread("acme", id=thread_id, context_id="biz_123")
    wiring.workflow_runner().start(
        thread.id, plan_execution(thread, registry.CIP_ORCHESTRATOR, RunRef(id=thread.id, seq=0))
    )
    settle_interrupted(deployment, thread_id)

    # When the resolve_step event is handled
    result = invoke("resolve_step", event)

    # Then 200, and the review completes with the event's decision and note
    assert result["statusCode"] == 200, result["body"]
    assert review_id == step_id(thread_id, "human_review")
    assert settle(deployment) == [{"name": thread_id, "status": "SUCCEEDED"}]
    stored = wiring.thread_store().get("acme", thread_id)[0]
    review = next(s for s in stored.steps if s.name == "human_review")
    assert (stored.status, review.status, review.output) == ("completed", "completed", {"decision": "approve"})
    assert review.artifacts[0].model_dump()["content"] == {
        "decision": "approve",
        "note": "Officer identity confirmed by phone.",
        "reviewer": "k3y1d0demo01",
    }


def settle_interrupted(deployment: Deployment, thread_id: str) -> None:
    poll(lambda: raw_thread_item(deployment, "acme", thread_id)["status"]["S"], lambda s: s == "interrupted")


def test_a_rejection_completes_the_thread_with_the_decision(
    api: Api, deployment: Deployment, waiting: dict[str, Any]
) -> None:
    # Given a thread waiting at its human review
    review = steps_of(waiting)["human_review"]

    # When a person rejects
    reply = api.call("POST", resolve_path(waiting["id"], review["id"]), body={"decision": "reject"})

    # Then 200, the thread completes, and the review completes with the rejection
    assert reply.status == 200, reply.body
    thread = wait_for_thread(api, deployment, waiting["id"], "completed")
    assert thread["status"] == "completed"
    review = steps_of(thread)["human_review"]
    assert (review["status"], review["output"], review["error"]) == ("completed", {"decision": "reject"}, None)
    assert review["artifacts"] == [
        {
            "title": "Human review",
            "type": "human_decision",
            "summary": "reject by test key of acme",
            "confidence": 1.0,
            "content": {"decision": "reject", "note": None, "reviewer": key_id(api.key)},
        }
    ]
    assert review["started_at"] <= review["completed_at"] <= thread["updated_at"]
    assert settle(deployment) == [{"name": waiting["id"], "status": "SUCCEEDED"}]

    with unchanged(deployment):
        # When the same step is resolved again
        again = api.call("POST", resolve_path(waiting["id"], review["id"]), body={"decision": "approve"})

    # Then 409: it no longer waits, and nothing changes
    assert again.status == 409
    assert again.json() == not_waiting(review["id"])


def test_a_decision_arriving_after_a_cancel_is_not_recorded(
    api: Api, deployment: Deployment, waiting: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a thread waiting at its human review, cancelled between the decision's claim of the
    # task token and its arrival (and whose execution the cancel could not stop)
    review = steps_of(waiting)["human_review"]
    tenant = Tenant(org_id="acme", key_id=key_id(api.key), scopes=frozenset({"read", "write"}))
    send = WorkflowRunner.send_decision

    def cancelled_first(runner: WorkflowRunner, token: str, outcome: Any) -> bool:
        cancel_thread(tenant, waiting["id"], store=wiring.thread_store(), steps=wiring.step_store(), runner=runner)
        return send(runner, token, outcome)

    monkeypatch.setattr(WorkflowRunner, "send_decision", cancelled_first)
    monkeypatch.setattr(WorkflowRunner, "try_stop", lambda runner, name: False)

    # When the decision is sent
    reply = api.call("POST", resolve_path(waiting["id"], review["id"]), body={"decision": "approve"})

    # Then the run does not record it (RecordDecision's thread condition refuses: ThreadClosed), and
    # the thread and its review stay as the cancel left them
    assert reply.status == 200, reply.body
    [execution] = settle(deployment)
    assert execution["status"] == "FAILED"
    history = clients.stepfunctions().get_execution_history(
        executionArn=execution_arn(deployment, waiting["id"]), maxResults=1000
    )["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered[-5:] == ["RecordDecision", "DecisionRefused", "ThreadClosed", "RecordRunFailed", "WorkflowFailed"]
    thread = api.call("GET", f"/v1/threads/{waiting['id']}").json()
    assert (thread["status"], steps_of(thread)["human_review"]["status"]) == ("cancelled", "cancelled")
    assert steps_of(thread)["human_review"]["resolution"] is None


def test_only_a_waiting_step_can_be_resolved(api: Api, deployment: Deployment, quick_waiting: dict[str, Any]) -> None:
    # Given a thread waiting at its human review, after a completed activity step
    waiting = quick_waiting
    decision = steps_of(waiting)["business_record"]["id"]
    unknown = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"

    with unchanged(deployment):
        # When a completed step, and a step the thread does not have, are resolved
        completed = api.call("POST", resolve_path(waiting["id"], decision), body={"decision": "approve"})
        missing = api.call("POST", resolve_path(waiting["id"], unknown), body={"decision": "approve"})

    # Then 409 for the finished step, 404 for the one it does not have, and nothing changes
    assert (completed.status, completed.json()) == (409, not_waiting(decision))
    assert (missing.status, missing.json()) == (
        404,
        error_body("not_found", f"No step with id {unknown} on this thread", "step_id"),
    )


BAD_BODIES: list[tuple[str, Any, str | None, dict[str, Any]]] = [
    (
        "a decision the step does not accept",
        {"decision": "maybe"},
        None,
        error_body("invalid_parameter", "decision must be one of: approve, reject", "decision"),
    ),
    (
        "an unknown field",
        {"decision": "approve", "reviewer": "me"},
        None,
        error_body("invalid_parameter", "reviewer is not a known parameter", "reviewer"),
    ),
    ("malformed JSON", None, '{"decision": ', error_body("invalid_json", "Request body is not valid JSON")),
    ("no body", None, None, error_body("invalid_parameter", "Request body is required")),
    (
        "no decision",
        {"note": "looks fine"},
        None,
        error_body("invalid_parameter", "decision is required", "decision"),
    ),
    (
        "a decision that is not a string",
        {"decision": True},
        None,
        error_body("invalid_parameter", "decision: Input should be a valid string", "decision"),
    ),
    (
        "a note too long",
        {"decision": "approve", "note": "x" * 4001},
        None,
        error_body("invalid_parameter", "note: String should have at most 4000 characters", "note"),
    ),
]


def test_a_bad_body_is_400_and_changes_nothing(api: Api, deployment: Deployment, quick_waiting: dict[str, Any]) -> None:
    # Given a thread waiting at its human review
    path = resolve_path(quick_waiting["id"], steps_of(quick_waiting)["human_review"]["id"])

    with unchanged(deployment):
        # When bad bodies are sent
        replies = {why: api.call("POST", path, body=body, raw_body=raw) for why, body, raw, _ in BAD_BODIES}

    # Then each is 400 naming what is wrong, and nothing changes (the review still waits)
    assert {why: (r.status, r.json()) for why, r in replies.items()} == {
        why: (400, expected) for why, _, _, expected in BAD_BODIES
    }


def test_only_the_threads_tenant_with_write_scope_resolves(
    api: Api, keys: Keys, deployment: Deployment, quick_waiting: dict[str, Any]
) -> None:
    # Given a waiting thread of project "default" of "acme"
    waiting = quick_waiting
    path = resolve_path(waiting["id"], steps_of(waiting)["human_review"]["id"])
    body = {"decision": "approve"}

    with unchanged(deployment):
        # When another org, another project, and a read-only key resolve it
        other_org = api.call("POST", path, body=body, key=keys.create("globex"))
        other_project = api.call("POST", path, body=body, key=keys.create(project_id="beta"))
        reader = api.call("POST", path, body=body, key=keys.create(scopes=("read",)))

    # Then 404, 404 and 403, and nothing changes
    missing = error_body("not_found", f"No thread with id {waiting['id']}", "id")
    assert (other_org.status, other_org.json()) == (404, missing)
    assert (other_project.status, other_project.json()) == (404, missing)
    assert (reader.status, reader.json()) == (403, error_body("forbidden", "This API key lacks the 'write' scope"))


def test_a_wait_that_times_out_fails_the_step_and_the_thread(
    api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an agent type whose human review waits at most one second (the plan is made at creation)
    quick = dataclasses.replace(
        registry.CIP_ORCHESTRATOR,
        steps=tuple(
            dataclasses.replace(step, timeout_seconds=1) if step.name == "human_review" else step
            for step in registry.CIP_ORCHESTRATOR.steps
        ),
    )
    monkeypatch.setitem(registry.AGENT_TYPES, "cip_orchestrator", quick)

    # When a thread reaches the review and nobody decides
    created = start_thread(api, "suspicious")
    assert json.loads(describe_execution(deployment, created["id"])["input"])["stages"][-1][0]["timeout_seconds"] == 1
    thread = wait_for_thread(api, deployment, created["id"], "failed")

    # Then the review failed with States.Timeout, the thread failed, the execution failed
    assert thread["status"] == "failed"
    review = steps_of(thread)["human_review"]
    assert (review["status"], review["error"]["type"], review["artifacts"]) == ("failed", "States.Timeout", [])
    assert isinstance(review["error"]["message"], str)
    assert review["started_at"] <= review["completed_at"]
    assert [s["status"] for s in thread["steps"][:-1]] == ["completed"] * 5
    assert settle(deployment) == [{"name": created["id"], "status": "FAILED"}]
    item = raw_thread_item(deployment, "acme", created["id"])
    assert (item["status"], item["gsi_status"]) == ({"S": "failed"}, {"S": "acme#failed"})

    with unchanged(deployment):
        # When the failed execution is reconciled, and the late decision arrives
        reconcile(deployment)
        late = api.call("POST", resolve_path(created["id"], review["id"]), body={"decision": "approve"})

    # Then nothing changes: the thread already failed, and the step no longer waits
    assert (late.status, late.json()) == (409, not_waiting(review["id"]))
