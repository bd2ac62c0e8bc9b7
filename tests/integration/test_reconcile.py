"""Failed steps, and ReconcileThreadFunction: an execution that ends abnormally never
leaves its thread running."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import threadline_agents.cip
from threadline import wiring
from threadline.logic.reconcile_thread import correlation_of
from threadline.models.domain import Thread
from threadline.models.workflow import AgentInput, AgentResult
from threadline.workflow.agent_types import CIP_ORCHESTRATOR
from threadline_tools.execution_events import status_change_event
from threadline_tools.provision import Deployment

from tests.conftest import (
    Api,
    Seed,
    describe_execution,
    execution_input,
    invoke,
    load_event,
    raw_thread_item,
    reconcile,
    seed_steps,
    settle,
    start_thread,
    table_items,
    unchanged,
    wait_for_thread,
)

pytestmark = pytest.mark.usefixtures("stop_leftovers")

WORKFLOW_FAILED = {
    "type": "Threadline.WorkflowFailed",
    "message": "A step failed or the thread was closed; see the run's steps.",
}


class TinRegistryError(RuntimeError):
    """What a check agent raises when it cannot do its job at all."""


def steps_of(thread: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in thread["steps"]}


def ended(thread: Thread, status: str, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
    """The status-change event of ``thread``'s execution ending ``status``."""
    return status_change_event(
        {
            "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:AgentWorkflow:{thread.id}",
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:AgentWorkflow",
            "name": thread.id,
            "status": status,
            "input": json.dumps(execution_input(thread, CIP_ORCHESTRATOR)),
            "error": error,
            "cause": cause,
        }
    )


# ----- a failing agent ---------------------------------------------------------------------------


def test_a_failing_agent_fails_its_step_and_the_thread(
    api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a business record agent that cannot do its job
    def broken(agent_input: AgentInput) -> AgentResult:
        raise TinRegistryError("the business registry is unreadable")

    monkeypatch.setattr(threadline_agents.cip, "business_record", broken)

    # When a thread runs
    created = start_thread(api, "clean")
    thread = wait_for_thread(api, deployment, created["id"], "failed")

    # Then the step failed with the exception's type and message, no later step was recorded,
    # the thread failed and the execution failed
    assert thread["status"] == "failed"
    [step] = thread["steps"]
    assert (step["name"], step["status"], step["artifacts"], step["output"]) == ("business_record", "failed", [], None)
    assert step["error"] == {"type": "TinRegistryError", "message": "the business registry is unreadable"}
    assert step["started_at"] <= step["completed_at"] <= thread["updated_at"]
    assert settle(deployment) == [{"name": created["id"], "status": "FAILED"}]
    assert describe_execution(deployment, created["id"])["error"] == "Threadline.WorkflowFailed"
    item = raw_thread_item(deployment, "acme", created["id"])
    assert (item["status"], item["gsi_status"]) == ({"S": "failed"}, {"S": "acme#failed"})
    assert [t["id"] for t in api.call("GET", "/v1/threads", query={"status": "failed"}).json()["data"]] == [
        created["id"]
    ]

    with unchanged(deployment):
        # When the failed execution is reconciled
        assert reconcile(deployment) == 1

    # Then nothing changes: the thread had already failed, and no step was left open


def test_a_failing_check_fails_the_thread_and_the_reconciler_closes_its_siblings(
    api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a TIN check that raises, and an address check and a watchlist screening still
    # running when it does (held, not raced: moto may run a stopped sibling's Catch, AWS does not)
    def broken(agent_input: AgentInput) -> AgentResult:
        raise TinRegistryError("TIN prefix table missing")

    release = threading.Event()

    def slow(agent_input: AgentInput) -> AgentResult:
        release.wait(10)
        return AgentResult(artifacts=[{"title": "late", "type": "late"}], output={})

    monkeypatch.setattr(threadline_agents.cip, "tin_check", broken)
    monkeypatch.setattr(threadline_agents.cip, "address_check", slow)
    monkeypatch.setattr(threadline_agents.cip, "watchlist_screening", slow)

    # When a thread runs
    try:
        created = start_thread(api, "clean")
        thread = wait_for_thread(api, deployment, created["id"], "failed")
        executions_after = settle(deployment, timeout=5)
        before_reconcile = raw_thread_item(deployment, "acme", created["id"])
    finally:
        release.set()  # the address check returns into a run that has ended
    time.sleep(0.3)

    # Then the TIN check failed with its error, the thread failed, the execution failed,
    # the decision never started, and the address check was left running
    assert thread["status"] == "failed"
    assert executions_after == [{"name": created["id"], "status": "FAILED"}]
    steps = steps_of(thread)
    assert list(steps) == ["business_record", "tin_check", "address_check", "watchlist_screening"]
    assert (steps["tin_check"]["status"], steps["tin_check"]["error"]) == (
        "failed",
        {"type": "TinRegistryError", "message": "TIN prefix table missing"},
    )
    assert steps["address_check"]["status"] == "running"
    assert steps["watchlist_screening"]["status"] in {"completed", "running"}

    # When the failed execution is reconciled
    assert reconcile(deployment) == 1

    # Then every step left open is closed failed with the execution's error; the thread is untouched
    after = api.call("GET", f"/v1/threads/{created['id']}").json()
    closed = steps_of(after)
    assert (closed["address_check"]["status"], closed["address_check"]["error"]) == ("failed", WORKFLOW_FAILED)
    assert closed["address_check"]["artifacts"] == []
    assert closed["address_check"]["started_at"] <= closed["address_check"]["completed_at"]
    assert closed["watchlist_screening"]["status"] in {"completed", "failed"}
    assert [s["status"] for s in after["steps"]].count("running") == 0
    assert closed["tin_check"] == steps["tin_check"]
    assert raw_thread_item(deployment, "acme", created["id"]) == before_reconcile

    with unchanged(deployment):
        # When it is reconciled again (EventBridge delivers at least once)
        reconcile(deployment)
    # Then nothing changes


# ----- the reconciling function, event by event ----------------------------------------------------


def test_the_events_file_fails_a_timed_out_thread(seed: Seed, deployment: Deployment) -> None:
    # Given the events file's thread, running, with its business record step open
    event = load_event("reconcile_thread.json")
    plan = json.loads(event["detail"]["input"])
    thread = seed.thread("acme", id=plan["thread"]["id"], context_id="biz_123", run_id=plan["run"]["id"], run_seq=1)
    seed_steps(thread, {"business_record": "running"})
    started = execution_input(thread, CIP_ORCHESTRATOR)
    started["run"]["correlation_id"] = load_event("create_thread.json")["requestContext"]["requestId"]
    assert json.loads(event["detail"]["input"]) == started

    # When the reconcile_thread event (TIMED_OUT) is handled
    result = invoke("reconcile_thread", event)

    # Then the thread failed, and the open step failed with the timeout, logged under the
    # correlation id of the request that started the execution
    assert result == {"changed": True, "thread_status": "failed", "closed_steps": 1}
    assert correlation_of(event["detail"]) == started["run"]["correlation_id"]
    item = raw_thread_item(deployment, "acme", thread.id)
    assert (item["status"], item["gsi_status"]) == ({"S": "failed"}, {"S": "acme#failed"})
    got = fetch(thread)
    [step] = got.steps
    assert (step.status, step.error) == (
        "failed",
        {"type": "States.Timeout", "message": "The workflow execution ended TIMED_OUT"},
    )
    assert step.completed_at is not None and step.started_at <= step.completed_at

    with unchanged(deployment):
        # When the same event is delivered again
        again = invoke("reconcile_thread", event)

    # Then nothing changes
    assert again == {"changed": False, "thread_status": None, "closed_steps": 0}


def test_an_aborted_execution_cancels_the_thread_and_its_waiting_step(seed: Seed, deployment: Deployment) -> None:
    # Given an interrupted thread: checks done, decision done, human review waiting
    thread = seed.thread(status="interrupted")
    done = dict.fromkeys(["business_record", "tin_check", "address_check", "watchlist_screening", "decision"])
    seed_steps(thread, {**{name: "completed" for name in done}, "human_review": "waiting"})
    before = fetch(thread)

    # When its execution's abort is reconciled
    result = invoke("reconcile_thread", ended(thread, "ABORTED"))

    # Then the thread is cancelled, the review cancelled (its token gone), the finished steps untouched
    assert result == {"changed": True, "thread_status": "cancelled", "closed_steps": 1}
    after = fetch(thread)
    assert after.status == "cancelled"
    assert after.steps[:-1] == before.steps[:-1]
    review = after.steps[-1]
    assert (review.status, review.error) == (
        "cancelled",
        {"type": "ExecutionAborted", "message": "The workflow execution ended ABORTED"},
    )
    assert not any("task_token" in item for item in table_items(deployment))


def test_a_lambda_error_cause_becomes_the_step_message(seed: Seed, deployment: Deployment) -> None:
    # Given a running thread with a running step
    thread = seed.thread()
    seed_steps(thread, {"business_record": "running"})
    cause = json.dumps({"errorMessage": "Task timed out after 30.00 seconds", "errorType": "Sandbox.Timedout"})

    # When its execution's failure is reconciled, with the Lambda error as cause
    invoke("reconcile_thread", ended(thread, "FAILED", error="Sandbox.Timedout", cause=cause))

    # Then the step's error is the Lambda error's type and message
    [step] = fetch(thread).steps
    assert step.error == {"type": "Sandbox.Timedout", "message": "Task timed out after 30.00 seconds"}


def test_a_finished_thread_is_never_moved(seed: Seed, deployment: Deployment) -> None:
    # Given finished threads with finished steps
    threads = [seed.thread(status=status) for status in ("completed", "failed", "cancelled")]
    for thread in threads:
        seed_steps(thread, {"business_record": "completed", "tin_check": "completed"})

    with unchanged(deployment):
        # When executions ending in every abnormal way are reconciled for them
        results = [
            invoke("reconcile_thread", ended(thread, end))
            for thread in threads
            for end in ("FAILED", "TIMED_OUT", "ABORTED")
        ]

    # Then nothing changes (status changes are monotonic)
    assert results == [{"changed": False, "thread_status": None, "closed_steps": 0}] * 9


OTHER_EVENTS: list[tuple[dict[str, Any], str]] = [
    ({"status": "SUCCEEDED"}, "execution SUCCEEDED"),
    ({"status": "RUNNING"}, "execution RUNNING"),
    ({}, "execution status unknown"),
    ({"status": "FAILED", "input": "{}"}, "not a Threadline execution"),
    ({"status": "FAILED", "input": None}, "not a Threadline execution"),
    ({"status": "FAILED", "input": json.dumps({"thread": {"id": "x"}})}, "not a Threadline execution"),
]


def test_other_events_change_nothing(seed: Seed, deployment: Deployment) -> None:
    # Given a running thread with a running step
    thread = seed.thread()
    seed_steps(thread, {"business_record": "running"})
    event = ended(thread, "FAILED")
    base = {k: v for k, v in event["detail"].items() if k != "status"}

    with unchanged(deployment):
        # When events that are not an abnormal end of a Threadline execution arrive
        results = [invoke("reconcile_thread", {**event, "detail": {**base, **detail}}) for detail, _ in OTHER_EVENTS]

    # Then each is ignored, saying why, and nothing changes
    assert results == [{"changed": False, "reason": reason} for _, reason in OTHER_EVENTS]


def fetch(thread: Thread) -> Thread:
    """The thread and its steps as stored."""
    return wiring.thread_store().get(thread.org_id, thread.id)[0]
