"""A thread's workflow end to end on moto's Step Functions: the cip_orchestrator's steps
over each sample business of events/businesses/, parallel checks, and replays."""

from __future__ import annotations

import itertools
import re
import threading
from typing import Any

import pytest
import threadline_agents.cip
from threadline import clients
from threadline.models.workflow import AgentInput, AgentResult, RunRef
from threadline.store import keys as store_keys
from threadline.store.plan import step_id
from threadline_tools.provision import Deployment

from tests.conftest import (
    TIMESTAMP,
    Api,
    describe_execution,
    executions,
    key_id,
    poll,
    raw_thread_item,
    reconcile,
    settle,
    start_thread,
    table_items,
    wait_for_thread,
)

pytestmark = pytest.mark.usefixtures("stop_leftovers")

# The cip_orchestrator plan: (name, label, agent, type, parent step)
PLAN = [
    ("business_record", "Business record completeness", "cip.business_record", "activity", None),
    ("tin_check", "TIN format and validity", "cip.tin_check", "activity", "business_record"),
    ("address_check", "Address completeness and normalisation", "cip.address_check", "activity", "business_record"),
    ("watchlist_screening", "Watchlist name screening", "cip.watchlist_screening", "activity", "business_record"),
    ("decision", "CIP decision", "cip.decision", "activity", None),
    ("human_review", "Human review", "human", "interrupt", "decision"),
]
CHECKS = ("tin_check", "address_check", "watchlist_screening")
STEP_FIELDS = {
    "id",
    "run_id",
    "type",
    "name",
    "label",
    "status",
    "started_at",
    "completed_at",
    "agent",
    "parent_step_id",
    "resolution",
    "artifacts",
    "output",
    "error",
}


def by_name(thread: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in thread["steps"]}


def assert_recorded(thread: dict[str, Any], statuses: dict[str, str]) -> None:
    """The thread's steps are the plan's first ``len(statuses)`` steps, in plan order, each with
    its label, agent, type, parent, run id and status, its times set and in stage order, and,
    when completed, artifacts that each carry a title, type, summary and confidence."""
    planned = PLAN[: len(statuses)]
    assert [step["name"] for step in thread["steps"]] == [name for name, *_ in planned]
    run = RunRef(id=thread["steps"][0]["run_id"], seq=1)  # the thread's first run
    ids = {name: step_id(thread["id"], name, run) for name, *_ in PLAN}
    for step, (name, label, agent, kind, parent) in zip(thread["steps"], planned, strict=True):
        assert set(step) == STEP_FIELDS, name
        assert (step["id"], step["run_id"], step["label"], step["agent"], step["type"]) == (
            ids[name],
            run.id,  # every step is of the one run
            label,
            agent,
            kind,
        ), name
        assert step["parent_step_id"] == (ids[parent] if parent else None), name
        assert step["status"] == statuses[name], name
        assert re.fullmatch(TIMESTAMP, step["started_at"]), name
        assert thread["created_at"] <= step["started_at"], name
        if step["status"] in {"running", "waiting"}:
            assert step["completed_at"] is None, name
        else:
            assert re.fullmatch(TIMESTAMP, step["completed_at"]), name
            assert step["started_at"] <= step["completed_at"] <= thread["updated_at"], name
        if step["status"] == "completed":
            assert step["error"] is None, name
            assert step["artifacts"], name
            for artifact in step["artifacts"]:
                assert {"title", "type", "summary", "confidence"} <= set(artifact), name
                assert isinstance(artifact["summary"], str) and artifact["summary"], name
                assert 0 <= artifact["confidence"] <= 1, name
    # Stage order: each stage starts after the one before it finished.
    steps = by_name(thread)
    stages = [["business_record"], list(CHECKS), ["decision"], ["human_review"]]
    for before, after in itertools.pairwise(stages):
        if all(name in steps and steps[name]["completed_at"] for name in before):
            for name in after:
                if name in steps:
                    assert max(steps[b]["completed_at"] for b in before) <= steps[name]["started_at"], name


def assert_decision_cites_the_checks(thread: dict[str, Any]) -> dict[str, Any]:
    """The decision's one artifact cites the four checks by step id; returns that artifact."""
    steps = by_name(thread)
    [artifact] = steps["decision"]["artifacts"]
    checks = ["business_record", *CHECKS]
    assert (artifact["title"], artifact["type"]) == ("CIP decision", "decision")
    assert artifact["sources"] == [steps[name]["id"] for name in checks]
    assert artifact["content"]["cited_steps"] == [{"name": name, "id": steps[name]["id"]} for name in checks]
    assert {reason["step"] for reason in artifact["content"]["reasons"]} == set(checks)
    return artifact


def artifact_types(thread: dict[str, Any]) -> dict[str, list[str]]:
    return {step["name"]: [a["type"] for a in step["artifacts"]] for step in thread["steps"]}


COMPLETED_CHECKS = dict.fromkeys(["business_record", *CHECKS, "decision"], "completed")


# ----- one full run per sample business --------------------------------------------------------


def test_a_clean_business_is_approved_without_a_human(api: Api, deployment: Deployment) -> None:
    # Given a thread on the clean sample business
    created = start_thread(api, "clean")
    assert (created["status"], created["steps"]) == ("running", [])

    # When its workflow runs to the end
    thread = wait_for_thread(api, deployment, created["id"], "completed")

    # Then the thread completed through the five steps, with no human review
    assert thread["status"] == "completed"
    assert_recorded(thread, COMPLETED_CHECKS)
    assert artifact_types(thread) == {
        "business_record": ["business_record"],
        "tin_check": ["tin_check"],
        "address_check": ["address_check"],
        "watchlist_screening": ["watchlist_screening"],
        "decision": ["decision"],
    }
    # And the decision approves, citing the four checks, as strong as its weakest check
    decision = by_name(thread)["decision"]
    assert decision["output"] == {"decision": "approve", "escalate": False}
    artifact = assert_decision_cites_the_checks(thread)
    assert (artifact["summary"], artifact["confidence"]) == ("Approve: every check passed.", 0.8)
    assert settle(deployment) == [{"name": thread["id"], "status": "SUCCEEDED"}]
    # And the stored thread sits in the completed status partition
    item = raw_thread_item(deployment, "acme", thread["id"])
    assert (item["status"], item["gsi_status"]) == ({"S": "completed"}, {"S": "acme#completed"})


def test_an_incomplete_business_is_rejected(api: Api, deployment: Deployment) -> None:
    # Given a thread on the incomplete sample business (no TIN, a PO box, no city or ZIP)
    created = start_thread(api, "incomplete")

    # When its workflow runs to the end
    thread = wait_for_thread(api, deployment, created["id"], "completed")

    # Then it completed with a reject, and no human review
    assert thread["status"] == "completed"
    assert_recorded(thread, COMPLETED_CHECKS)
    steps = by_name(thread)
    assert steps["decision"]["output"] == {"decision": "reject", "escalate": False}
    assert steps["tin_check"]["output"]["reason"] == "missing"
    assert steps["address_check"]["output"]["complete"] is False
    artifact = assert_decision_cites_the_checks(thread)
    assert artifact["summary"] == (
        "Reject: Required fields missing: tin. No TIN was given. The city is missing. The ZIP code is missing."
    )
    assert artifact["confidence"] == 1.0
    assert settle(deployment) == [{"name": thread["id"], "status": "SUCCEEDED"}]


def test_a_suspicious_business_waits_for_a_human_and_completes_on_approval(api: Api, deployment: Deployment) -> None:
    # Given a thread on the suspicious sample business (an officer resembles a listed person)
    created = start_thread(api, "suspicious")

    # When its workflow reaches the human review
    waiting = wait_for_thread(api, deployment, created["id"], "interrupted")

    # Then the thread is interrupted, its decision is review, and the human review waits
    assert waiting["status"] == "interrupted"
    assert_recorded(waiting, {**COMPLETED_CHECKS, "human_review": "waiting"})
    steps = by_name(waiting)
    assert steps["decision"]["output"] == {"decision": "review", "escalate": False, "proposed": "approve"}
    assert artifact_types(waiting)["watchlist_screening"] == ["watchlist_screening", "watchlist_hit"]
    artifact = assert_decision_cites_the_checks(waiting)
    assert artifact["summary"].startswith('Review: Officer "Ivan Petrov" resembles "Ivan Fictitious Petrov"')
    review = steps["human_review"]
    assert (review["artifacts"], review["output"], review["error"]) == ([], None, None)
    assert executions(deployment) == [{"name": created["id"], "status": "RUNNING"}]

    # When a person approves
    reply = api.call(
        "POST",
        f"/v1/threads/{created['id']}/steps/{review['id']}/resolve",
        body={"decision": "approve", "note": "Different person: date of birth differs."},
    )

    # Then the workflow resumes and completes the thread
    assert reply.status == 200
    assert reply.json()["id"] == created["id"]
    assert reply.json()["status"] in {"running", "completed"}  # the workflow resumes meanwhile
    thread = wait_for_thread(api, deployment, created["id"], "completed")
    assert thread["status"] == "completed"
    assert_recorded(thread, {**COMPLETED_CHECKS, "human_review": "completed"})
    # And the human review completed with the person's decision as its artifact
    review = by_name(thread)["human_review"]
    assert review["output"] == {"decision": "approve"}
    assert review["artifacts"] == [
        {
            "title": "Human review",
            "type": "human_decision",
            "summary": "approve by test key of acme",
            "confidence": 1.0,
            "content": {
                "decision": "approve",
                "note": "Different person: date of birth differs.",
                "reviewer": key_id(api.key),
            },
        }
    ]
    assert settle(deployment) == [{"name": thread["id"], "status": "SUCCEEDED"}]


def test_a_sanctioned_business_is_escalated_to_a_human(api: Api, deployment: Deployment) -> None:
    # Given a thread on the sanctioned sample business (an exact watchlist entity and alias)
    created = start_thread(api, "sanctioned")

    # When its workflow reaches the human review
    thread = wait_for_thread(api, deployment, created["id"], "interrupted")

    # Then the decision is review with escalate, and the thread waits for a person
    assert thread["status"] == "interrupted"
    assert_recorded(thread, {**COMPLETED_CHECKS, "human_review": "waiting"})
    steps = by_name(thread)
    assert steps["decision"]["output"] == {"decision": "review", "escalate": True, "proposed": "reject"}
    assert steps["watchlist_screening"]["output"]["status"] == "match"
    assert artifact_types(thread)["watchlist_screening"] == ["watchlist_screening", "watchlist_hit", "watchlist_hit"]
    artifact = assert_decision_cites_the_checks(thread)
    assert artifact["summary"].startswith("Review, escalated to compliance: Watchlist match;")
    assert artifact["confidence"] == 0.5
    assert [r["code"] for r in artifact["content"]["reasons"] if r["effect"] == "escalate"] == ["watchlist_match"]


# ----- the parallel group -----------------------------------------------------------------------


def test_the_checks_run_at_the_same_time_under_the_business_record(
    api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given check agents that each finish only once all three are running at the same time
    # (run one after another, the first would wait out the barrier and fail its step)
    together = threading.Barrier(len(CHECKS), timeout=5)

    def meeting(agent: Any) -> Any:
        def run(agent_input: AgentInput) -> AgentResult:
            together.wait()
            result: AgentResult = agent(agent_input)
            return result

        return run

    for name in CHECKS:
        monkeypatch.setattr(threadline_agents.cip, name, meeting(getattr(threadline_agents.cip, name)))

    # When a thread runs
    created = start_thread(api, "clean")
    thread = wait_for_thread(api, deployment, created["id"], "completed")

    # Then the three checks ran together, children of the business record, all before the decision
    assert thread["status"] == "completed", by_name(thread).get("tin_check", {}).get("error")
    assert_recorded(thread, COMPLETED_CHECKS)
    steps = by_name(thread)
    record_id = steps["business_record"]["id"]
    assert [steps[name]["parent_step_id"] for name in CHECKS] == [record_id] * 3
    assert max(steps[name]["started_at"] for name in CHECKS) <= min(steps[name]["completed_at"] for name in CHECKS)
    assert all(steps[name]["started_at"] < steps["decision"]["started_at"] for name in CHECKS)
    assert steps["decision"]["parent_step_id"] is None


# ----- replays never duplicate a step, and never move a status back ------------------------------


def test_replaying_a_finished_threads_execution_changes_nothing(api: Api, deployment: Deployment) -> None:
    # Given a thread whose workflow completed
    created = start_thread(api, "clean")
    assert wait_for_thread(api, deployment, created["id"], "completed")["status"] == "completed"
    settle(deployment)
    execution_input = describe_execution(deployment, created["id"])["input"]
    before = stored_items(deployment)

    # When the same input runs again under another name (every RecordStepStarted replays), and is reconciled
    clients.stepfunctions().start_execution(
        stateMachineArn=deployment.state_machine_arn, name="replay", input=execution_input
    )
    finished = settle(deployment)
    reconcile(deployment)

    # Then the replay stops at the finished thread (it fails rather than writing) ...
    assert sorted(finished, key=lambda e: e["name"] != created["id"]) == [
        {"name": created["id"], "status": "SUCCEEDED"},
        {"name": "replay", "status": "FAILED"},
    ]
    assert describe_execution(deployment, "replay")["error"] == "Threadline.WorkflowFailed"
    # ... and the table is exactly as it was: one item per step, all completed, the thread completed
    assert stored_items(deployment) == before
    thread = api.call("GET", f"/v1/threads/{created['id']}").json()
    assert thread["status"] == "completed"
    assert_recorded(thread, COMPLETED_CHECKS)


def test_replaying_a_waiting_threads_execution_keeps_one_item_per_step(api: Api, deployment: Deployment) -> None:
    # Given a thread waiting for a human
    created = start_thread(api, "suspicious")
    waiting = wait_for_thread(api, deployment, created["id"], "interrupted")
    assert waiting["status"] == "interrupted"
    execution_input = describe_execution(deployment, created["id"])["input"]
    review_key = step_key(created["id"], 6, "human_review")
    first_token = raw_item(deployment, review_key)["task_token"]

    # When the same input runs again under another name, up to the human review
    clients.stepfunctions().start_execution(
        stateMachineArn=deployment.state_machine_arn, name="replay", input=execution_input
    )
    # (it re-runs every agent, its RecordStepStarted writes meet the items there, and it waits again)
    replayed = poll(lambda: raw_item(deployment, review_key), lambda item: item.get("task_token") != first_token)

    # Then the review still waits, on the replay's task token (a retried wait task's token is a new one)
    assert replayed["status"] == {"S": "waiting"}
    assert replayed["task_token"] != first_token
    # And there is still one item per step, none moved back, the thread still interrupted
    thread = api.call("GET", f"/v1/threads/{created['id']}").json()
    assert thread["status"] == "interrupted"
    assert [(s["name"], s["status"], s["run_id"], s["started_at"], s["completed_at"]) for s in thread["steps"]] == [
        (s["name"], s["status"], s["run_id"], s["started_at"], s["completed_at"]) for s in waiting["steps"]
    ]
    assert len([i for i in table_items(deployment) if i["sk"]["S"].startswith("STEP#")]) == 6

    # When a person approves
    review_id = by_name(thread)["human_review"]["id"]
    reply = api.call("POST", f"/v1/threads/{created['id']}/steps/{review_id}/resolve", body={"decision": "approve"})

    # Then the thread completes, still with one item per step
    assert reply.status == 200, reply.body
    done = wait_for_thread(api, deployment, created["id"], "completed")
    assert done["status"] == "completed"
    assert_recorded(done, {**COMPLETED_CHECKS, "human_review": "completed"})


def stored_items(deployment: Deployment) -> list[dict[str, Any]]:
    return sorted(table_items(deployment), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def step_key(thread_id: str, position: int, name: str) -> dict[str, Any]:
    """The key of a step of a thread's first run."""
    sk = store_keys.step_sk(position, name, run_seq=1)
    return {"pk": {"S": store_keys.thread_pk("acme", thread_id)}, "sk": {"S": sk}}


def raw_item(deployment: Deployment, key: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = clients.dynamodb().get_item(TableName=deployment.threads_table, Key=key)["Item"]
    return item
