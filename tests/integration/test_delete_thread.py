"""DELETE /v1/threads/{id}: soft delete, stopping a running workflow."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from threadline import clients, wiring
from threadline.models.workflow import RunRef
from threadline.store.plan import plan_execution
from threadline.workflow.agent_types import CIP_ORCHESTRATOR
from threadline.workflow.executions import WorkflowRunner
from threadline_tools.provision import ROLE_ARN, Deployment
from threadline_tools.template import ROOT

from tests.conftest import (
    THREAD_FIELDS,
    TIMESTAMP,
    Api,
    Keys,
    Seed,
    changes_nothing,
    error_body,
    executions,
    invoke,
    key_id,
    raw_thread_item,
    route_event,
    seed_steps,
    settle,
    table_items,
    wait_for_status,
)

VALID = {"type": "cip_orchestrator", "business_id": "biz-42"}


@pytest.fixture(autouse=True)
def _business(seed: Seed) -> None:
    """The business these tests create threads on exists (POST /v1/threads is a 404 otherwise)."""
    seed.business("biz-42")


def test_the_events_file_deletes_the_thread(deployment: Deployment, seed: Seed) -> None:
    # Given a completed thread of the events file's org
    thread = seed.thread("acme", status="completed")

    # When the delete_thread event is handled for it
    result = invoke("delete_thread", route_event("delete_thread.json", thread_id=thread.id))

    # Then 200 with the thread marked deleted by the event's key
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert (body["id"], body["deleted"], body["deleted_by"], body["status"]) == (
        thread.id,
        True,
        "k3y1d0demo01",
        "completed",
    )
    assert raw_thread_item(deployment, "acme", thread.id)["deleted"] == {"BOOL": True}


def test_deleting_a_finished_thread(api: Api, deployment: Deployment) -> None:
    # Given a thread whose workflow completed
    thread = api.call("POST", "/v1/threads", body=VALID).json()
    assert wait_for_status(api, thread["id"], "completed")["status"] == "completed"
    before = datetime.now(UTC)

    # When it is deleted
    reply = api.call("DELETE", f"/v1/threads/{thread['id']}")

    # Then 200 with the deletion recorded and the status left as it was
    assert reply.status == 200
    body = reply.json()
    assert set(body) == THREAD_FIELDS
    assert (body["deleted"], body["deleted_by"], body["status"]) == (True, key_id(api.key), "completed")
    assert re.fullmatch(TIMESTAMP, body["deleted_at"])
    assert body["updated_at"] == body["deleted_at"]
    # And it is stored, with a purge time at the retention horizon (30 days)
    item = raw_thread_item(deployment, "acme", thread["id"])
    assert item["deleted"] == {"BOOL": True}
    assert item["deleted_by"] == {"S": key_id(api.key)}
    purge_at = datetime.fromtimestamp(int(item["purge_at"]["N"]), UTC)
    assert before + timedelta(days=30) - timedelta(seconds=5) <= purge_at <= datetime.now(UTC) + timedelta(days=30)


def test_a_deleted_thread_is_hidden_but_listable_on_request(api: Api, seed: Seed) -> None:
    # Given two threads, one of them deleted
    kept, gone = seed.thread(created=1), seed.thread(created=2)
    assert api.call("DELETE", f"/v1/threads/{gone.id}").status == 200

    # When it is read, listed, and deleted again
    get = api.call("GET", f"/v1/threads/{gone.id}")
    listed = api.call("GET", "/v1/threads").json()
    with_deleted = api.call("GET", "/v1/threads", query={"include_deleted": "true"}).json()
    again = api.call("DELETE", f"/v1/threads/{gone.id}")

    # Then it is 404 and unlisted, except when deleted threads are asked for; a second delete is 404
    assert get.status == 404
    assert [t["id"] for t in listed["data"]] == [kept.id]
    assert [(t["id"], t["deleted"]) for t in with_deleted["data"]] == [(gone.id, True), (kept.id, False)]
    assert again.status == 404
    assert again.json() == error_body("not_found", f"No thread with id {gone.id}", "id")


def test_deleting_a_running_thread_cancels_it(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given a running thread (seeded: no workflow races the delete)
    thread = seed.thread(status="running")

    # When it is deleted
    body = api.call("DELETE", f"/v1/threads/{thread.id}").json()

    # Then it is cancelled, in the reply, in storage and in the status index (deleted twin)
    assert (body["status"], body["deleted"]) == ("cancelled", True)
    item = raw_thread_item(deployment, "acme", thread.id)
    assert (item["status"], item["gsi_status"]) == ({"S": "cancelled"}, {"S": "acme#cancelled#deleted"})
    assert [t["id"] for t in api.call("GET", "/v1/threads", query={"status": "running"}).json()["data"]] == []


def test_deleting_an_active_thread_closes_its_open_steps_with_it(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given an interrupted thread with a completed step and a waiting one (seeded: no workflow)
    thread = seed.thread(status="interrupted")
    seed_steps(thread, {"business_record": "completed", "human_review": "waiting"})

    # When it is deleted
    body = api.call("DELETE", f"/v1/threads/{thread.id}").json()

    # Then the reply shows no open step: the waiting one closed at the deletion's moment
    statuses = {s["name"]: s["status"] for s in body["steps"]}
    assert statuses == {"business_record": "completed", "human_review": "cancelled"}
    review = next(s for s in body["steps"] if s["name"] == "human_review")
    assert review["completed_at"] == body["updated_at"] == body["deleted_at"]
    assert review["error"] == {"type": "ThreadDeleted", "message": "The thread was deleted"}
    # And it is restored as it was deleted: cancelled, no step open
    restored = api.call("POST", f"/v1/threads/{thread.id}/restore").json()
    assert {s["name"]: s["status"] for s in restored["steps"]} == statuses


def test_deleting_right_after_creation_never_ends_completed_after_cancelled(api: Api, deployment: Deployment) -> None:
    # Given a thread whose workflow has just started
    thread = api.call("POST", "/v1/threads", body=VALID).json()

    # When it is deleted at once (the workflow may or may not have finished)
    deleted = api.call("DELETE", f"/v1/threads/{thread['id']}").json()
    [execution] = settle(deployment)

    # Then the final status is the one the delete answered: cancelled stays cancelled
    # (how the execution ended varies: moto's StopExecution races its own interpreter)
    assert deleted["status"] in {"cancelled", "completed"}
    assert raw_thread_item(deployment, "acme", thread["id"])["status"] == {"S": deleted["status"]}
    assert execution["status"] != "RUNNING"


@pytest.fixture
def slow_workflow(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> str:
    """The real agent workflow, held in a Wait state first: its thread is still running when deleted."""
    text = (ROOT / "statemachine" / "agent_workflow.asl.json").read_text()
    for variable, value in deployment.substitutions.items():
        text = text.replace("${" + variable + "}", value)
    definition = json.loads(text)
    definition["States"]["Hold"] = {"Type": "Wait", "Seconds": 3, "Next": definition["StartAt"]}
    definition["StartAt"] = "Hold"
    arn = clients.stepfunctions().create_state_machine(
        name="threadline-slow-workflow", definition=json.dumps(definition), roleArn=ROLE_ARN
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    wiring.reset()
    return arn


def test_deleting_a_running_thread_stops_its_workflow(api: Api, deployment: Deployment, slow_workflow: str) -> None:
    # Given a thread whose workflow is running (held in its first state)
    thread = api.call("POST", "/v1/threads", body=VALID).json()
    assert executions(deployment, slow_workflow) == [{"name": thread["id"], "status": "RUNNING"}]

    # When the thread is deleted
    body = api.call("DELETE", f"/v1/threads/{thread['id']}").json()

    # Then it is cancelled, its execution aborted, and it stays cancelled
    assert body["status"] == "cancelled"
    assert settle(deployment, slow_workflow, timeout=2) == [{"name": thread["id"], "status": "ABORTED"}]
    assert raw_thread_item(deployment, "acme", thread["id"])["status"] == {"S": "cancelled"}


def test_another_orgs_thread_is_404_and_untouched(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given a running thread of org "globex"
    theirs = seed.thread("globex", status="running")

    with changes_nothing(deployment):
        # When a key of "acme" deletes it
        reply = api.call("DELETE", f"/v1/threads/{theirs.id}")

    # Then 404, and the thread is as it was
    assert reply.status == 404
    assert reply.json() == error_body("not_found", f"No thread with id {theirs.id}", "id")


def test_another_projects_thread_is_404_and_untouched(api: Api, keys: Keys, seed: Seed, deployment: Deployment) -> None:
    # Given a thread of project "beta" and a key of project "alpha"
    beta = seed.thread(project_id="beta")
    alpha_key = keys.create(project_id="alpha")

    with changes_nothing(deployment):
        # When the "alpha" key deletes it
        reply = api.call("DELETE", f"/v1/threads/{beta.id}", key=alpha_key)

    # Then 404, untouched
    assert reply.status == 404


@pytest.mark.parametrize("thread_id", ["3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c", "not-a-uuid"])
def test_an_unknown_id_is_404(api: Api, seed: Seed, deployment: Deployment, thread_id: str) -> None:
    # Given some thread
    seed.thread()

    with changes_nothing(deployment):
        # When an unknown id is deleted
        reply = api.call("DELETE", f"/v1/threads/{thread_id}")

    # Then 404
    assert reply.status == 404
    assert reply.json() == error_body("not_found", f"No thread with id {thread_id}", "id")


def test_a_key_without_write_scope_cannot_delete(api: Api, keys: Keys, seed: Seed, deployment: Deployment) -> None:
    # Given a thread and a read-only key
    thread = seed.thread()
    reader = keys.create(scopes=("read",))

    with changes_nothing(deployment):
        # When the reader deletes it
        reply = api.call("DELETE", f"/v1/threads/{thread.id}", key=reader)

    # Then 403, untouched
    assert reply.status == 403
    assert reply.json() == error_body("forbidden", "This API key lacks the 'write' scope")


def test_a_workflow_finishing_after_cancellation_leaves_the_thread_cancelled(
    seed: Seed, deployment: Deployment
) -> None:
    # Given a thread cancelled (and deleted) before its workflow records completion
    thread = seed.thread(status="cancelled", deleted=True, deleted_at="2024-01-15T09:31:00.000Z", deleted_by="k")
    before = raw_thread_item(deployment, "acme", thread.id)

    # When its workflow runs anyway
    runner = wiring.workflow_runner()
    runner.start(thread.id, plan_execution(thread, CIP_ORCHESTRATOR, RunRef(id=thread.id, seq=0)))
    finished = settle(deployment)

    # Then the execution stops at its first write (the thread is no longer running),
    # records no step, and the thread is exactly as it was
    assert finished == [{"name": thread.id, "status": "FAILED"}]
    history = clients.stepfunctions().get_execution_history(executionArn=runner.execution_arn(thread.id))["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    # (its first step's start was refused: the thread is not active)
    # (the step's record of its failure finds no step to close)
    assert entered == [
        "RunStages",
        "RunSteps",
        "StepKind",
        "RunStep",
        "RecordStepFailed",
        "StepFailed",
        "RecordRunFailed",
        "WorkflowFailed",
    ]
    assert raw_thread_item(deployment, "acme", thread.id) == before
    assert [i for i in table_items(deployment) if i["sk"]["S"].startswith("STEP#")] == []


def test_a_workflow_that_cannot_be_stopped_does_not_undo_the_answer(
    api: Api, seed: Seed, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running thread, and Step Functions failing to stop executions
    thread = seed.thread(status="running")

    def refuse(self: WorkflowRunner, execution_name: str) -> None:
        raise RuntimeError("StopExecution: ThrottlingException")

    monkeypatch.setattr(WorkflowRunner, "stop", refuse)

    # When the thread is deleted
    reply = api.call("DELETE", f"/v1/threads/{thread.id}")

    # Then the committed deletion is what the caller hears (a 500 would make its retry a 404)
    assert reply.status == 200
    assert (reply.json()["status"], reply.json()["deleted"]) == ("cancelled", True)
    assert raw_thread_item(deployment, "acme", thread.id)["status"] == {"S": "cancelled"}


def test_the_purge_of_a_deleted_thread_takes_its_whole_partition_and_its_counts(
    api: Api, seed: Seed, deployment: Deployment
) -> None:
    # Given a deleted thread with user data, steps and metadata, and a live one
    gone = seed.thread(status="completed", user_data="notes", metadata={"tier": "gold"})
    seed_steps(gone, {"business_record": "completed", "tin_check": "completed"})
    live = seed.thread(metadata={"tier": "gold"})
    assert api.call("DELETE", f"/v1/threads/{gone.id}").status == 200
    everything = {"include_deleted": "true", "metadata": '{"tier": "gold"}'}
    assert api.call("GET", "/v1/threads", query=everything).json()["total_count"] == 2

    # When DynamoDB's TTL purges its header (the only item whose TTL is set)
    header = raw_thread_item(deployment, "acme", gone.id)
    assert "purge_at" in header
    assert not [
        i for i in table_items(deployment) if i["pk"] == header["pk"] and "purge_at" in i and i["sk"] != header["sk"]
    ]
    clients.dynamodb().delete_item(TableName=deployment.threads_table, Key={"pk": header["pk"], "sk": header["sk"]})

    # Then the indexer takes the rest of its partition (but a tombstone against replays), and its counts
    reply = api.call("GET", "/v1/threads", query=everything).json()
    assert (reply["total_count"], [t["id"] for t in reply["data"]]) == (1, [live.id])
    left = [i["sk"]["S"] for i in table_items(deployment) if i["pk"] == header["pk"]]
    assert left == ["INDEXED"]
    assert api.call("GET", f"/v1/threads/{gone.id}").status == 404
