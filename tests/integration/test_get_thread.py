"""GET /v1/threads/{id}: one thread with its steps."""

from __future__ import annotations

import json
import logging

import pytest
from threadline import clients
from threadline.store import keys as store_keys
from threadline.store.items import serialize
from threadline_tools.provision import Deployment

from tests.conftest import (
    THREAD_FIELDS,
    Api,
    Keys,
    Seed,
    agentuity_error,
    error_body,
    invoke,
    key_id,
    route_event,
)

VALID = {"type": "cip_orchestrator", "business_id": "biz-42"}


@pytest.fixture(autouse=True)
def _business(seed: Seed) -> None:
    """The business these tests create threads on exists (POST /v1/threads is a 404 otherwise)."""
    seed.business("biz-42")


UNKNOWN_ID = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"


def test_the_events_file_returns_the_thread(seed: Seed) -> None:
    # Given a stored thread of the events file's org
    thread = seed.thread("acme", metadata={"source": "crm"}, user_data="opaque")

    # When the get_thread event asks for it
    result = invoke("get_thread", route_event("get_thread.json", thread_id=thread.id))

    # Then 200 with the thread, user_data decrypted, no steps yet
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert set(body) == THREAD_FIELDS
    assert (body["id"], body["metadata"], body["user_data"], body["steps"]) == (
        thread.id,
        {"source": "crm"},
        "opaque",
        [],
    )


def test_a_created_thread_reads_back_as_created(api: Api) -> None:
    # Given a thread created through the API
    created = api.call(
        "POST", "/v1/threads", body={**VALID, "metadata": {"n": 1.5, "ok": True}, "user_data": '{"a": 1}'}
    ).json()

    # When it is read
    reply = api.call("GET", f"/v1/threads/{created['id']}")

    # Then every field but status/updated_at (the workflow may have finished meanwhile) is as created
    assert reply.status == 200
    got = reply.json()
    assert set(got) == THREAD_FIELDS
    moving = {"status", "updated_at", "steps"}  # the workflow may have started, or finished, meanwhile
    assert {k: v for k, v in got.items() if k not in moving} == {k: v for k, v in created.items() if k not in moving}
    assert got["status"] in {"running", "completed"}
    assert got["requester"] == {"type": "api_key", "id": key_id(api.key), "name": "test key of acme"}


@pytest.mark.parametrize(
    "thread_id",
    [
        pytest.param(UNKNOWN_ID, id="unknown-uuid"),
        pytest.param("not-a-uuid", id="not-a-uuid"),
        pytest.param(UNKNOWN_ID.upper(), id="upper-case-uuid"),
        pytest.param("x" * 3000, id="longer-than-a-dynamodb-key"),
    ],
)
def test_an_unknown_id_is_404(api: Api, seed: Seed, thread_id: str) -> None:
    # Given some thread exists, but not this id
    seed.thread("acme")

    # When the id is read
    reply = api.call("GET", f"/v1/threads/{thread_id}")

    # Then 404 naming the id
    assert reply.status == 404
    assert reply.json() == error_body("not_found", f"No thread with id {thread_id[:64]}", "id")


def test_another_orgs_thread_is_404_exactly_like_a_missing_one(api: Api, keys: Keys, seed: Seed) -> None:
    # Given a thread of org "globex"
    theirs = seed.thread("globex")

    # When a key of org "acme" reads it
    reply = api.call("GET", f"/v1/threads/{theirs.id}")

    # Then it is 404, the same answer as for an id that does not exist
    assert reply.status == 404
    assert reply.json() == error_body("not_found", f"No thread with id {theirs.id}", "id")
    assert api.call("GET", f"/v1/threads/{theirs.id}", key=keys.create("globex")).status == 200


def test_another_projects_thread_is_404_for_a_project_key(api: Api, keys: Keys, seed: Seed) -> None:
    # Given threads of projects "alpha" and "beta" in the key's org
    alpha, beta = seed.thread(project_id="alpha"), seed.thread(project_id="beta")
    alpha_key = keys.create(project_id="alpha")

    # When the "alpha" key reads both
    mine = api.call("GET", f"/v1/threads/{alpha.id}", key=alpha_key)
    other = api.call("GET", f"/v1/threads/{beta.id}", key=alpha_key)

    # Then it sees its own project's thread only
    assert mine.status == 200
    assert other.status == 404
    assert other.json() == error_body("not_found", f"No thread with id {beta.id}", "id")


def test_a_deleted_thread_is_404(api: Api, seed: Seed) -> None:
    # Given a thread that was deleted
    thread = seed.thread()
    assert api.call("DELETE", f"/v1/threads/{thread.id}").status == 200

    # When it is read
    reply = api.call("GET", f"/v1/threads/{thread.id}")

    # Then 404
    assert reply.status == 404
    assert reply.json() == error_body("not_found", f"No thread with id {thread.id}", "id")


def test_a_key_without_read_scope_cannot_read(api: Api, keys: Keys, seed: Seed) -> None:
    # Given a write-only key and a thread
    thread = seed.thread()
    writer = keys.create(scopes=("write",))

    # When it reads the thread
    reply = api.call("GET", f"/v1/threads/{thread.id}", key=writer)

    # Then 403
    assert reply.status == 403
    assert reply.json() == error_body("forbidden", "This API key lacks the 'read' scope")


def test_a_thread_whose_user_data_cannot_be_decrypted_fails_alone(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given a thread whose user data item holds another thread's ciphertext (it cannot decrypt)
    broken = seed.thread(user_data="mine", created=1)
    donor = seed.thread(user_data="theirs", created=0)
    items = clients.dynamodb()
    donor_blob = items.get_item(
        TableName=deployment.threads_table, Key=serialize(store_keys.user_data_key("acme", donor.id))
    )["Item"]["user_data_enc"]
    items.update_item(
        TableName=deployment.threads_table,
        Key=serialize(store_keys.user_data_key("acme", broken.id)),
        UpdateExpression="SET user_data_enc = :blob",
        ExpressionAttributeValues={":blob": donor_blob},
    )
    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign]
    logging.getLogger("threadline").addHandler(handler)  # the functions' Powertools logger

    # When it is read on its own, in each dialect
    try:
        native = api.call("GET", f"/v1/threads/{broken.id}")
        agentuity = api.call("GET", f"/thread/{broken.id}")
    finally:
        logging.getLogger("threadline").removeHandler(handler)

    # Then a clear error names the thread and the problem, and the log names its id
    message = f"The user_data of thread {broken.id} cannot be decrypted"
    assert (native.status, native.json()) == (500, error_body("user_data_undecryptable", message))
    assert (agentuity.status, agentuity.json()) == (500, agentuity_error("user_data_undecryptable", message))
    assert any(getattr(r, "thread_id", None) == broken.id and r.levelname == "ERROR" for r in logged)

    # And every list with it still answers: the thread without its user data, the others whole
    for path in ("/v1/threads", "/thread"):
        reply = api.call("GET", path)
        assert reply.status == 200, reply.body
        by_id = {t["id"]: t["user_data"] for t in reply.json()["data"]}
        assert by_id == {broken.id: None, donor.id: "theirs"}


def test_a_thread_whose_user_data_cannot_be_decrypted_can_still_be_changed_repaired_and_deleted(
    api: Api, seed: Seed, deployment: Deployment
) -> None:
    # Given a running thread whose user data item holds another thread's ciphertext
    broken = seed.thread(user_data="mine")
    donor = seed.thread(user_data="theirs")
    dynamodb = clients.dynamodb()
    blob = dynamodb.get_item(
        TableName=deployment.threads_table, Key=serialize(store_keys.user_data_key("acme", donor.id))
    )["Item"]["user_data_enc"]
    dynamodb.update_item(
        TableName=deployment.threads_table,
        Key=serialize(store_keys.user_data_key("acme", broken.id)),
        UpdateExpression="SET user_data_enc = :blob",
        ExpressionAttributeValues={":blob": blob},
    )

    # When its metadata is changed, then it is the same: the unreadable user data is kept, not dropped
    patched = api.call("PATCH", f"/v1/threads/{broken.id}", body={"metadata": {"a": 1}})
    assert (patched.status, patched.json()["user_data"]) == (200, None), patched.body
    assert api.call("GET", f"/v1/threads/{broken.id}").status == 500

    # When its user data is replaced, then it reads again
    repaired = api.call("PATCH", f"/v1/threads/{broken.id}", body={"user_data": "fixed"})
    assert repaired.status == 200, repaired.body
    assert api.call("GET", f"/v1/threads/{broken.id}").json()["user_data"] == "fixed"

    # And a thread broken again can still be cancelled and deleted
    dynamodb.update_item(
        TableName=deployment.threads_table,
        Key=serialize(store_keys.user_data_key("acme", broken.id)),
        UpdateExpression="SET user_data_enc = :blob",
        ExpressionAttributeValues={":blob": blob},
    )
    assert api.call("POST", f"/v1/threads/{broken.id}/cancel").status == 200
    assert api.call("DELETE", f"/v1/threads/{broken.id}").status == 200
    assert api.call("POST", f"/v1/threads/{broken.id}/restore").status == 200
