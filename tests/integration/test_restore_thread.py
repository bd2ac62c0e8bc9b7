"""POST /v1/threads/{id}/restore: undo a soft delete within the retention period."""

from __future__ import annotations

from datetime import timedelta

from threadline import clients, wiring
from threadline.timeutil import format_time, now
from threadline_tools.gateway import Reply
from threadline_tools.provision import Deployment

from tests.conftest import (
    THREAD_FIELDS,
    Api,
    Keys,
    Seed,
    agentuity_error,
    changes_nothing,
    error_body,
    invoke,
    raw_thread_item,
    route_event,
    seed_steps,
    wait_for_status,
)


def restore(api: Api, thread_id: str, key: str | None = None) -> Reply:
    return api.call("POST", f"/v1/threads/{thread_id}/restore", key=key)


def listed(api: Api, path: str = "/v1/threads", **query: str) -> list[str]:
    reply = api.call("GET", path, query=query)
    assert reply.status == 200, reply.body
    return [t["id"] for t in reply.json()["data"]]


def test_the_events_file_restores_the_thread(deployment: Deployment, seed: Seed) -> None:
    thread = seed.thread("acme", status="completed")
    assert invoke("delete_thread", route_event("delete_thread.json", thread_id=thread.id))["statusCode"] == 200

    result = invoke("restore_thread", route_event("restore_thread.json", thread_id=thread.id))

    assert result["statusCode"] == 200, result["body"]
    assert "purge_at" not in raw_thread_item(deployment, "acme", thread.id)


def test_a_restored_thread_is_back_in_both_dialects_with_its_steps_and_counts(
    api: Api, seed: Seed, deployment: Deployment
) -> None:
    # Given a completed thread with steps, metadata and user data, deleted
    thread = seed.thread(status="completed", metadata={"tier": "gold"}, user_data="notes")
    seed_steps(thread, {"business_record": "completed"})
    other = seed.thread(created=1)
    deleted = api.call("DELETE", f"/v1/threads/{thread.id}").json()
    assert listed(api) == [other.id]

    # When it is restored
    reply = restore(api, thread.id)

    # Then 200 with the thread as it was, no longer deleted, updated now, tagged with its version
    assert reply.status == 200, reply.body
    body = reply.json()
    assert set(body) == THREAD_FIELDS
    assert (body["deleted"], body["deleted_at"], body["deleted_by"]) == (False, None, None)
    assert (body["status"], body["metadata"], body["user_data"]) == ("completed", {"tier": "gold"}, "notes")
    assert [s["name"] for s in body["steps"]] == ["business_record"]
    assert body["updated_at"] >= deleted["updated_at"]
    assert reply.headers["ETag"] == f'"{deleted_version(deployment, thread.id)}"'
    # And it is stored live again: no purge time, on the live partitions
    item = raw_thread_item(deployment, "acme", thread.id)
    assert "purge_at" not in item
    assert not item["gsi_org"]["S"].endswith("#deleted")
    # And both dialects read it and list it, and counts include it
    assert api.call("GET", f"/v1/threads/{thread.id}").json() == body
    assert api.call("GET", f"/thread/{thread.id}").json()["data"]["deleted"] is False
    assert sorted(listed(api)) == sorted([thread.id, other.id])
    assert sorted(listed(api, "/thread")) == sorted([thread.id, other.id])
    assert listed(api, metadata='{"tier": "gold"}') == [thread.id]
    assert api.call("GET", "/v1/threads", query={"page": "1"}).json()["total_count"] == 2
    gold = api.call("GET", "/v1/threads", query={"metadata": '{"tier": "gold"}', "page": "1"}).json()
    assert gold["total_count"] == 1
    # And it can be deleted again
    assert api.call("DELETE", f"/v1/threads/{thread.id}").status == 200


def deleted_version(deployment: Deployment, thread_id: str) -> int:
    return int(raw_thread_item(deployment, "acme", thread_id)["version"]["N"])


def test_a_thread_its_deletion_cancelled_stays_cancelled(api: Api, seed: Seed) -> None:
    # Given a running thread (seeded: no workflow can finish it first), deleted (which cancels it)
    thread_id = seed.thread().id
    assert api.call("DELETE", f"/v1/threads/{thread_id}").json()["status"] == "cancelled"

    # When it is restored, then it is back, cancelled: restoring does not restart a workflow
    body = restore(api, thread_id).json()
    assert (body["deleted"], body["status"]) == (False, "cancelled")
    assert wait_for_status(api, thread_id, "cancelled")["status"] == "cancelled"


def test_restoring_a_live_thread_is_a_409(api: Api, seed: Seed, deployment: Deployment) -> None:
    thread = seed.thread()
    with changes_nothing(deployment):
        reply = restore(api, thread.id)
    assert reply.status == 409
    assert reply.json() == error_body("conflict", f"Thread {thread.id} is not deleted", "id")


def test_past_retention_purged_foreign_or_unknown_is_a_404(
    api: Api, seed: Seed, keys: Keys, deployment: Deployment
) -> None:
    # Given a thread deleted longer ago than the retention period (not yet purged by TTL)
    old = seed.thread()
    store = wiring.thread_store()
    long_ago = format_time(now() - timedelta(days=31))
    stale = old.model_copy(update={"deleted": True, "deleted_at": long_ago, "deleted_by": "k", "version": 2})
    assert store.soft_delete(stale, expected_version=1)
    # And a deleted thread DynamoDB's TTL purged
    purged = seed.thread()
    assert api.call("DELETE", f"/v1/threads/{purged.id}").status == 200
    header = raw_thread_item(deployment, "acme", purged.id)
    clients.dynamodb().delete_item(TableName=deployment.threads_table, Key={"pk": header["pk"], "sk": header["sk"]})
    # And another org's and another project's deleted threads
    foreign = seed.thread("other")
    store.soft_delete(foreign.model_copy(update={"deleted": True, "deleted_at": format_time(now()), "version": 2}), 1)
    elsewhere = seed.thread(project_id="beta")
    assert api.call("DELETE", f"/v1/threads/{elsewhere.id}").status == 200
    alpha_key = keys.create(project_id="alpha")

    with changes_nothing(deployment):
        # Then each is the same 404, in the native dialect's shape
        for thread_id, key in (
            (old.id, None),
            (purged.id, None),
            (foreign.id, None),
            (elsewhere.id, alpha_key),
            ("00000000-0000-4000-8000-000000000000", None),
            ("not-a-uuid", None),
        ):
            reply = restore(api, thread_id, key=key)
            assert reply.status == 404, (thread_id, reply.body)
            assert reply.json() == error_body("not_found", f"No deleted thread with id {thread_id}", "id")
    # And Agentuity's read of a purged thread agrees
    assert api.call("GET", f"/thread/{purged.id}").json() == agentuity_error(
        "not_found", f"No thread with id {purged.id}"
    )


def test_a_read_only_key_may_not_restore(api: Api, seed: Seed, keys: Keys, deployment: Deployment) -> None:
    thread = seed.thread()
    assert api.call("DELETE", f"/v1/threads/{thread.id}").status == 200
    with changes_nothing(deployment):
        reply = restore(api, thread.id, key=keys.create(scopes=("read",)))
    assert reply.status == 403
