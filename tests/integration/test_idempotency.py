"""Idempotency-Key on the creating routes (POST /v1/threads, PUT /v1/contexts/...)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from threadline import clients
from threadline_tools.gateway import Reply
from threadline_tools.provision import Deployment

from tests.conftest import (
    Api,
    Keys,
    Seed,
    changes_nothing,
    error_body,
    executions,
    sample_business,
    thread_items,
)

VALID = {"type": "cip_orchestrator", "business_id": "biz-1", "user_data": "secret notes", "metadata": {"a": 1}}


@pytest.fixture(autouse=True)
def _business(seed: Seed) -> None:
    seed.business("biz-1", "biz-2")


def create(api: Api, key: str | None, body: Any = None, api_key: str | None = None) -> Reply:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.call("POST", "/v1/threads", body=VALID if body is None else body, headers=headers, key=api_key)


def idempotency_items(deployment: Deployment) -> list[dict[str, Any]]:
    return clients.dynamodb().scan(TableName=deployment.idempotency_table)["Items"]


def test_a_retry_replays_the_first_response_and_starts_nothing(api: Api, deployment: Deployment) -> None:
    # Given a thread created with a key
    first = create(api, "order-1")
    assert first.status == 201, first.body
    assert "Idempotent-Replayed" not in first.headers

    # When the same request is sent again with the same key (its JSON written differently)
    again = api.call(
        "POST",
        "/v1/threads",
        raw_body=json.dumps(dict(reversed(list(VALID.items()))), indent=2),
        headers={"idempotency-key": "order-1"},
    )

    # Then the first response comes back, marked as replayed, and nothing new exists
    assert (again.status, again.body) == (201, first.body)
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(thread_items(deployment)) == 1
    assert len(executions(deployment)) == 1


def test_the_recorded_response_is_sealed(api: Api, deployment: Deployment) -> None:
    # Given a create whose response holds user data
    assert create(api, "sealed-1").status == 201

    # Then the record holds no plaintext of the response: not the user data, not the thread
    [record] = idempotency_items(deployment)
    assert record["status"]["S"] == "COMPLETED"
    # And it expires (TTL) a day later
    assert abs(int(record["expiration"]["N"]) - (time.time() + 24 * 60 * 60)) < 60
    text = json.dumps(record)
    assert "secret notes" not in text
    assert "cip_orchestrator" not in text
    assert "order" not in text and "sealed-1" not in text  # the key itself is hashed


def test_the_same_key_with_another_request_is_a_422(api: Api, deployment: Deployment) -> None:
    assert create(api, "order-2").status == 201
    with changes_nothing(deployment):
        reply = create(api, "order-2", body={**VALID, "business_id": "biz-2"})
        other_route = api.call("PUT", "/v1/contexts/business/biz-9", body={}, headers={"Idempotency-Key": "order-2"})
    assert reply.status == 422, reply.body
    [error] = reply.json()["errors"]
    assert (error["code"], error["parameter"]) == ("idempotency_key_reused", "Idempotency-Key")
    assert other_route.status == 422


def test_keys_are_per_tenant(api: Api, keys: Keys, seed: Seed, deployment: Deployment) -> None:
    # Given org acme created a thread with a key
    assert create(api, "shared-key").status == 201

    # When another org, and a project-restricted key of acme, use the same key
    seed.business("biz-1", org_id="other")
    theirs = create(api, "shared-key", api_key=keys.create("other"))
    restricted = create(
        api, "shared-key", body={**VALID, "project_id": "alpha"}, api_key=keys.create(project_id="alpha")
    )

    # Then each is a request of its own: created, not replayed, not refused
    assert (theirs.status, restricted.status) == (201, 201)
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["org_id"] == "other"
    assert len(thread_items(deployment)) == 3


def test_errors_are_not_recorded(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given a create that fails (its business does not exist)
    with changes_nothing(deployment):
        missing = create(api, "retry-me", body={**VALID, "business_id": "biz-new"})
    assert missing.status == 404
    assert idempotency_items(deployment) == []

    # When the business is created and the same request retried with the same key
    seed.business("biz-new")
    retried = create(api, "retry-me", body={**VALID, "business_id": "biz-new"})

    # Then it runs (and is recorded now)
    assert retried.status == 201, retried.body
    assert len(idempotency_items(deployment)) == 1


def test_a_duplicate_in_progress_is_a_409_with_retry_after(
    api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a first create that is slow to finish (its workflow start takes a moment)
    from threadline.workflow.executions import WorkflowRunner

    started = threading.Event()
    original = WorkflowRunner.start

    def slow_start(self: WorkflowRunner, *args: Any, **kwargs: Any) -> Any:
        started.set()
        time.sleep(0.5)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WorkflowRunner, "start", slow_start)
    replies: list[Reply] = []
    first = threading.Thread(target=lambda: replies.append(create(api, "slow-1")))
    first.start()
    assert started.wait(5)

    # When the same request comes meanwhile
    duplicate = create(api, "slow-1")
    first.join()

    # Then the duplicate is a 409 asking to retry, and the first completes alone
    assert duplicate.status == 409, duplicate.body
    assert duplicate.headers["Retry-After"] == "1"
    assert duplicate.json() == error_body(
        "idempotency_in_progress",
        "A request with this Idempotency-Key is still in progress: retry shortly",
        "Idempotency-Key",
    )
    assert replies[0].status == 201
    assert len(thread_items(deployment)) == 1
    # And its retry gets the first response
    assert create(api, "slow-1").body == replies[0].body


def test_twenty_concurrent_identical_creates_make_one_thread(api: Api, deployment: Deployment) -> None:
    # When twenty identical creates with one key race
    replies: list[Reply] = []
    lock = threading.Lock()

    def send() -> None:
        reply = create(api, "burst-1")
        with lock:
            replies.append(reply)

    workers = [threading.Thread(target=send) for _ in range(20)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # Then one thread and one execution exist; every answer is that thread or "retry shortly"
    assert len(thread_items(deployment)) == 1
    assert len(executions(deployment)) == 1
    created = {r.json()["id"] for r in replies if r.status == 201}
    assert len(created) == 1
    assert {r.status for r in replies} <= {201, 409}


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\tkey", "ключ"])
def test_a_malformed_key_is_a_400(api: Api, deployment: Deployment, key: str) -> None:
    with changes_nothing(deployment):
        reply = create(api, key)
    assert reply.status == 400, reply.body
    assert reply.json()["errors"][0]["parameter"] == "Idempotency-Key"


def test_a_read_only_key_gets_the_routes_403_not_a_replay(api: Api, keys: Keys, deployment: Deployment) -> None:
    assert create(api, "ro-1").status == 201
    reply = create(api, "ro-1", api_key=keys.create(scopes=("read",)))
    assert reply.status == 403


def test_contexts_honour_the_key(api: Api, deployment: Deployment) -> None:
    # Given a context stored with a key
    first = api.call("PUT", "/v1/contexts/business/biz-7", body=sample_business(), headers={"Idempotency-Key": "c1"})
    assert first.status == 201

    # Then its retry replays the 201 (not the 200 a second PUT answers)
    again = api.call("PUT", "/v1/contexts/business/biz-7", body=sample_business(), headers={"Idempotency-Key": "c1"})
    assert (again.status, again.body, again.headers["Idempotent-Replayed"]) == (201, first.body, "true")


def test_the_largest_response_is_recorded_and_replayed(api: Api, deployment: Deployment) -> None:
    # Given a create whose user data is as large as allowed, of 3-byte characters and quotes
    # (escaped twice over in a response held as JSON: a record holds at most 400 KB)
    unit = '中"'
    user_data = unit * (256 * 1024 // len(unit.encode()))
    body = {**VALID, "user_data": user_data}

    # When it is created with a key, then retried
    first = create(api, "large-1", body=body)
    again = create(api, "large-1", body=body)

    # Then the retry replays it whole, from its record
    assert first.status == 201, first.body[:300]
    assert (again.status, again.headers.get("Idempotent-Replayed")) == (201, "true")
    assert again.json()["user_data"] == user_data
    assert len(thread_items(deployment)) == 1
