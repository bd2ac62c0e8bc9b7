"""POST /v1/threads/{id}/cancel: stop a thread's workflow."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import threadline_agents.cip
from threadline import clients, wiring
from threadline.models.workflow import AgentInput, AgentResult
from threadline.store import keys as store_keys
from threadline.store.steps import StepStore
from threadline_tools.provision import Deployment

from tests.conftest import (
    THREAD_FIELDS,
    Api,
    Keys,
    Seed,
    changes_nothing,
    error_body,
    invoke,
    poll,
    raw_thread_item,
    reconcile,
    route_event,
    seed_steps,
    settle,
    start_thread,
    unchanged,
    wait_for_thread,
)

pytestmark = pytest.mark.usefixtures("stop_leftovers")

CANCELLED = {"type": "ThreadCancelled", "message": "The thread was cancelled"}


def steps_of(thread: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in thread["steps"]}


def finished(thread_id: str, status: str) -> dict[str, Any]:
    return error_body("conflict", f"Thread {thread_id} has already finished ({status})", "id")


def test_the_events_file_cancels_the_thread(seed: Seed, deployment: Deployment) -> None:
    # Given the events file's thread, running (seeded: no execution to stop)
    event = route_event("cancel_thread.json")
    thread = seed.thread("acme", id=event["pathParameters"]["thread_id"])

    # When the cancel_thread event is handled
    result = invoke("cancel_thread", event)

    # Then 200 with the thread cancelled, in the reply and in storage (and its status index)
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert set(body) == THREAD_FIELDS
    assert (body["id"], body["status"], body["steps"]) == (thread.id, "cancelled", [])
    assert body["updated_at"] > thread.updated_at
    item = raw_thread_item(deployment, "acme", thread.id)
    assert (item["status"], item["gsi_status"], item["version"]) == (
        {"S": "cancelled"},
        {"S": "acme#cancelled"},
        {"N": "2"},
    )


def test_cancelling_an_interrupted_thread_aborts_its_workflow(api: Api, deployment: Deployment) -> None:
    # Given a thread on the suspicious sample business, waiting for a human
    created = start_thread(api, "suspicious")
    waiting = wait_for_thread(api, deployment, created["id"], "interrupted")
    assert steps_of(waiting)["human_review"]["status"] == "waiting"

    # When it is cancelled
    reply = api.call("POST", f"/v1/threads/{created['id']}/cancel")

    # Then 200 with the thread cancelled, and its waiting step closed with it, at the same moment
    assert reply.status == 200, reply.body
    body = reply.json()
    assert set(body) == THREAD_FIELDS
    assert body["status"] == "cancelled"
    assert body["updated_at"] > waiting["updated_at"]
    assert body["steps"][:-1] == waiting["steps"][:-1]
    review = steps_of(body)["human_review"]
    assert (review["status"], review["error"], review["artifacts"]) == ("cancelled", CANCELLED, [])
    assert review["started_at"] <= review["completed_at"] == body["updated_at"]
    assert "task_token" not in raw_step(deployment, created["id"], "STEP#R0001#006#human_review")
    assert api.call("GET", "/v1/threads", query={"status": "cancelled"}).json()["data"][0]["id"] == created["id"]
    # And the execution is aborted
    assert settle(deployment) == [{"name": created["id"], "status": "ABORTED"}]

    # When the aborted execution is reconciled
    assert reconcile(deployment) == 1

    # Then nothing more changes: the thread's answer was its final state
    assert api.call("GET", f"/v1/threads/{created['id']}").json() == body

    with unchanged(deployment):
        # When it is cancelled again, and its review resolved
        again = api.call("POST", f"/v1/threads/{created['id']}/cancel")
        resolve = api.call(
            "POST", f"/v1/threads/{created['id']}/steps/{review['id']}/resolve", body={"decision": "approve"}
        )

    # Then 409s, and nothing changes
    assert (again.status, again.json()) == (409, finished(created["id"], "cancelled"))
    assert resolve.status == 409


def raw_step(deployment: Deployment, thread_id: str, sk: str) -> dict[str, Any]:
    """A step's item as stored ({} while it is not recorded)."""
    key = {"pk": {"S": store_keys.thread_pk("acme", thread_id)}, "sk": {"S": sk}}
    item: dict[str, Any] = clients.dynamodb().get_item(TableName=deployment.threads_table, Key=key).get("Item", {})
    return item


def test_cancelling_while_a_step_runs_stops_the_workflow_there(
    api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a thread whose decision step is running (its agent holds until released)
    release = threading.Event()

    def held(agent_input: AgentInput) -> AgentResult:
        release.wait(10)
        return AgentResult(artifacts=[{"title": "late", "type": "late"}], output={"decision": "approve"})

    monkeypatch.setattr(threadline_agents.cip, "decision", held)
    created = start_thread(api, "clean")
    decision = poll(lambda: raw_step(deployment, created["id"], "STEP#R0001#005#decision"), lambda item: bool(item))
    assert decision["status"] == {"S": "running"}

    try:
        # When it is cancelled
        reply = api.call("POST", f"/v1/threads/{created['id']}/cancel")

        # Then 200 cancelled, the running step with it, and the execution is aborted at once
        assert (reply.status, reply.json()["status"]) == (200, "cancelled")
        assert steps_of(reply.json())["decision"]["status"] == "cancelled"
        assert settle(deployment, timeout=3) == [{"name": created["id"], "status": "ABORTED"}]
    finally:
        release.set()  # the decision's agent returns into an execution that is gone

    # When the end is reconciled (after the released agent has had time to return)
    time.sleep(0.3)
    reconcile(deployment)

    # Then the running step stays cancelled, no later step ran, and the thread is as answered
    thread = wait_for_thread(api, deployment, created["id"], "cancelled")
    assert thread["status"] == "cancelled"
    assert [(s["name"], s["status"]) for s in thread["steps"]] == [
        ("business_record", "completed"),
        ("tin_check", "completed"),
        ("address_check", "completed"),
        ("watchlist_screening", "completed"),
        ("decision", "cancelled"),
    ]
    decision = steps_of(thread)["decision"]
    assert (decision["error"], decision["artifacts"], decision["output"]) == (CANCELLED, [], None)
    assert thread == reply.json()


def test_a_finished_thread_cannot_be_cancelled(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given finished threads
    threads = {status: seed.thread(status=status) for status in ("completed", "failed", "cancelled")}

    with changes_nothing(deployment):
        # When they are cancelled
        replies = {status: api.call("POST", f"/v1/threads/{t.id}/cancel") for status, t in threads.items()}

    # Then 409 saying so, and nothing changes
    assert {status: (r.status, r.json()) for status, r in replies.items()} == {
        status: (409, finished(t.id, status)) for status, t in threads.items()
    }


def test_only_the_threads_tenant_with_write_scope_cancels(
    api: Api, keys: Keys, seed: Seed, deployment: Deployment
) -> None:
    # Given running threads of "acme" (project "beta") and of "globex", and a deleted one
    beta = seed.thread(project_id="beta")
    theirs = seed.thread("globex")
    deleted = seed.thread(deleted=True, deleted_at="2024-01-15T09:31:00.000Z", deleted_by="k", status="cancelled")
    unknown = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"

    with changes_nothing(deployment):
        # When they are cancelled by keys that may not see or change them
        other_org = api.call("POST", f"/v1/threads/{theirs.id}/cancel")
        other_project = api.call("POST", f"/v1/threads/{beta.id}/cancel", key=keys.create(project_id="alpha"))
        reader = api.call("POST", f"/v1/threads/{beta.id}/cancel", key=keys.create(scopes=("read",)))
        gone = api.call("POST", f"/v1/threads/{deleted.id}/cancel")
        missing = api.call("POST", f"/v1/threads/{unknown}/cancel")

    # Then 404 (exactly as for a thread that does not exist), 403 for the reader; nothing changes
    def not_found(thread_id: str) -> tuple[int, dict[str, Any]]:
        return 404, error_body("not_found", f"No thread with id {thread_id}", "id")

    assert (other_org.status, other_org.json()) == not_found(theirs.id)
    assert (other_project.status, other_project.json()) == not_found(beta.id)
    assert (gone.status, gone.json()) == not_found(deleted.id)
    assert (missing.status, missing.json()) == not_found(unknown)
    assert (reader.status, reader.json()) == (403, error_body("forbidden", "This API key lacks the 'write' scope"))


def test_a_step_written_while_cancelling_is_closed_too(
    api: Api, seed: Seed, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running thread with a running step
    thread = seed.thread(status="running")
    seed_steps(thread, {"business_record": "running"})
    store = wiring.step_store()
    original = StepStore.close_open_step_writes
    raced: list[bool] = []

    def racing(self: StepStore, org_id: str, thread_id: str, *args: Any, **kwargs: Any) -> Any:
        writes = original(self, org_id, thread_id, *args, **kwargs)
        if not raced:
            # a step starts after the cancel read the steps, as the agent function starts one:
            # its item only (the thread is checked, not rewritten, so its version stays)
            raced.append(True)
            seed_steps(thread, {"tin_check": "running"}, started=2)
        return writes

    monkeypatch.setattr(StepStore, "close_open_step_writes", racing)

    # When it is cancelled
    body = api.call("POST", f"/v1/threads/{thread.id}/cancel").json()

    # Then the cancel's check that the step was not started failed, it read again, and no step
    # is left open, the step started meanwhile included
    assert raced and store is wiring.step_store()
    assert {s["name"]: s["status"] for s in body["steps"]} == {"business_record": "cancelled", "tin_check": "cancelled"}
    assert max(s["completed_at"] for s in body["steps"]) <= body["updated_at"]
