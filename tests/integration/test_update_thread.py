"""PATCH /v1/threads/{id}: merge metadata, replace user data, ETag and If-Match."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from threadline_tools.provision import Deployment

from tests.conftest import (
    THREAD_FIELDS,
    Api,
    Keys,
    Seed,
    changes_nothing,
    error_body,
    invoke,
    raw_thread_item,
    route_event,
    table_items,
    wait_for_status,
)


def patch(api: Api, thread_id: str, body: Any, **kwargs: Any) -> Any:
    return api.call("PATCH", f"/v1/threads/{thread_id}", body=body, **kwargs)


def listed_ids(api: Api, **query: Any) -> list[str]:
    reply = api.call("GET", "/v1/threads", query=query)
    assert reply.status == 200, reply.body
    return [t["id"] for t in reply.json()["data"]]


def test_the_events_file_patches_the_thread(deployment: Deployment, seed: Seed) -> None:
    # Given a thread of the events file's org, at version 3, with metadata to drop
    thread = seed.thread("acme", id="0b9f6c2e-6f2a-4c5e-9a51-6d1f0f3c2a7b", metadata={"stale": 1}, version=3)

    # When the update_thread event (If-Match "3") is handled
    result = invoke("update_thread", route_event("update_thread.json", thread_id=thread.id))

    # Then 200, the metadata merged and the version moved on
    assert result["statusCode"] == 200, result["body"]
    assert json.loads(result["body"])["metadata"] == {"priority": "high"}
    assert result["multiValueHeaders"]["ETag"] == ['"4"']


def test_metadata_merges_and_user_data_is_replaced(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given a thread with metadata and user data
    thread = seed.thread(metadata={"tier": "gold", "region": "eu", "nested": {"a": 1}}, user_data="old")

    # When a PATCH sets one key, removes one and replaces a nested value and the user data
    reply = patch(
        api, thread.id, {"metadata": {"tier": "silver", "region": None, "nested": {"b": 2}}, "user_data": "new"}
    )

    # Then the thread answers merged: given keys replace (whole), null removes, others stay
    assert reply.status == 200, reply.body
    body = reply.json()
    assert set(body) == THREAD_FIELDS
    assert body["metadata"] == {"tier": "silver", "nested": {"b": 2}}
    assert body["user_data"] == "new"
    assert body["updated_at"] > thread.updated_at
    assert reply.headers["ETag"] == '"2"'
    # And a later read agrees, and the user data is stored encrypted, not on the header
    again = api.call("GET", f"/v1/threads/{thread.id}")
    assert again.json()["metadata"] == body["metadata"]
    assert again.json()["user_data"] == "new"
    assert again.headers["ETag"] == '"2"'
    assert "new" not in str(table_items(deployment))


def test_filters_and_counts_follow_the_new_metadata(api: Api, seed: Seed) -> None:
    # Given two gold threads
    first = seed.thread(metadata={"tier": "gold"})
    second = seed.thread(metadata={"tier": "gold"}, created=1)
    assert sorted(listed_ids(api, metadata='{"tier": "gold"}')) == sorted([first.id, second.id])

    # When one becomes silver
    assert patch(api, first.id, {"metadata": {"tier": "silver"}}).status == 200

    # Then each filter lists (and counts) the thread where its metadata now puts it
    assert listed_ids(api, metadata='{"tier": "gold"}') == [second.id]
    assert listed_ids(api, metadata='{"tier": "silver"}') == [first.id]
    silver = api.call("GET", "/v1/threads", query={"metadata": '{"tier": "silver"}'}).json()
    gold = api.call("GET", "/v1/threads", query={"metadata": '{"tier": "gold"}'}).json()
    assert (silver["total_count"], gold["total_count"]) == (1, 1)
    # And removing all metadata takes it out of every metadata filter
    assert patch(api, first.id, {"metadata": None}).json()["metadata"] is None
    assert listed_ids(api, metadata='{"tier": "silver"}') == []


def test_user_data_null_removes_it_and_an_absent_field_changes_nothing(
    api: Api, seed: Seed, deployment: Deployment
) -> None:
    # Given a thread with user data and metadata
    thread = seed.thread(metadata={"tier": "gold"}, user_data="secret")

    # When user_data is set to null (metadata not given)
    body = patch(api, thread.id, {"user_data": None}).json()

    # Then the user data is gone (its item too), the metadata untouched
    assert (body["user_data"], body["metadata"]) == (None, {"tier": "gold"})
    assert not any(item["sk"]["S"] == "USER_DATA" for item in table_items(deployment))
    assert raw_thread_item(deployment, "acme", thread.id)["has_user_data"] == {"BOOL": False}
    assert api.call("GET", "/v1/threads").json()["data"][0]["user_data"] is None


def test_a_patch_that_changes_nothing_writes_nothing(api: Api, seed: Seed, deployment: Deployment) -> None:
    thread = seed.thread(metadata={"tier": "gold"})
    with changes_nothing(deployment):
        for body in ({}, {"metadata": {"tier": "gold"}}, {"metadata": {"absent": None}}):
            reply = patch(api, thread.id, body)
            assert (reply.status, reply.json()["updated_at"], reply.headers["ETag"]) == (200, thread.updated_at, '"1"')


def test_every_thread_response_carries_its_version(api: Api, seed: Seed) -> None:
    # Given a running thread created through the API
    seed.business("biz-1")
    created = api.call("POST", "/v1/threads", body={"type": "cip_orchestrator", "business_id": "biz-1"})
    thread_id = created.json()["id"]
    assert created.headers["ETag"] == '"1"'

    # Then every response of the thread names its current version, in both dialects
    seeded = seed.thread(version=7)
    assert api.call("GET", f"/v1/threads/{seeded.id}").headers["ETag"] == '"7"'
    assert api.call("GET", f"/thread/{seeded.id}").headers["ETag"] == '"7"'
    assert wait_for_status(api, thread_id, "completed")["status"] == "completed"
    native = api.call("GET", f"/v1/threads/{thread_id}")
    patched = patch(api, thread_id, {"metadata": {"a": "b"}}, headers={"If-Match": native.headers["ETag"]})
    assert patched.status == 200, patched.body
    assert int(patched.headers["ETag"].strip('"')) > int(native.headers["ETag"].strip('"'))


@pytest.mark.parametrize("if_match", ['"1"', '"1", "3"', 'W/"2"', '"abc"'])
def test_a_stale_if_match_is_a_412_and_changes_nothing(
    api: Api, seed: Seed, deployment: Deployment, if_match: str
) -> None:
    # Given a thread at version 2
    thread = seed.thread(version=2)

    # When a PATCH names another version (or a weak or foreign tag)
    with changes_nothing(deployment):
        reply = patch(api, thread.id, {"metadata": {"a": 1}}, headers={"If-Match": if_match})

    # Then 412 naming If-Match
    assert reply.status == 412, reply.body
    [error] = reply.json()["errors"]
    assert (error["code"], error["parameter"]) == ("precondition_failed", "If-Match")


def test_a_matching_or_wildcard_if_match_applies(api: Api, seed: Seed) -> None:
    thread = seed.thread(version=2)
    assert patch(api, thread.id, {"metadata": {"a": 1}}, headers={"If-Match": '"2"'}).headers["ETag"] == '"3"'
    assert patch(api, thread.id, {"metadata": {"a": 2}}, headers={"if-match": "*"}).headers["ETag"] == '"4"'
    assert patch(api, thread.id, {"metadata": {"a": 3}}, headers={"If-Match": '"1", "4"'}).headers["ETag"] == '"5"'


def test_racing_patches_never_lose_an_update(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given a thread
    thread = seed.thread()
    replies: list[int] = []

    # When eight PATCHes, each setting its own key, race
    def set_key(n: int) -> None:
        replies.append(patch(api, thread.id, {"metadata": {f"k{n}": n}}).status)

    workers = [threading.Thread(target=set_key, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # Then every one succeeded and every key is there: none overwrote another's
    assert replies == [200] * 8
    body = api.call("GET", f"/v1/threads/{thread.id}").json()
    assert body["metadata"] == {f"k{n}": n for n in range(8)}
    assert raw_thread_item(deployment, "acme", thread.id)["version"] == {"N": "9"}


@pytest.mark.parametrize(
    ("body", "parameter", "message"),
    [
        ({"status": "completed"}, "status", "status is not a known parameter"),
        ({"metadata": "x"}, "metadata", None),
        ({"user_data": 5}, "user_data", None),
        ({"metadata": {f"k{n}": n for n in range(33)}}, "metadata", None),
        ({"metadata": {"": 1}}, "metadata", None),
        ({"user_data": "x" * (256 * 1024 + 1)}, "user_data", None),
    ],
)
def test_bad_changes_are_a_400_naming_the_field_and_change_nothing(
    api: Api, seed: Seed, deployment: Deployment, body: Any, parameter: str, message: str | None
) -> None:
    thread = seed.thread(metadata={"tier": "gold"})
    with changes_nothing(deployment):
        reply = patch(api, thread.id, body)
    assert reply.status == 400, reply.body
    [error] = reply.json()["errors"]
    assert error["parameter"] == parameter
    if message:
        assert error["message"] == message


def test_a_merge_over_the_limits_is_a_400(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given a thread with 30 metadata keys
    thread = seed.thread(metadata={f"k{n}": n for n in range(30)})

    # When a PATCH adds three more (33 after the merge)
    with changes_nothing(deployment):
        reply = patch(api, thread.id, {"metadata": {"x": 1, "y": 2, "z": 3}})

    # Then 400 naming metadata and the merge
    assert reply.status == 400
    assert reply.json() == error_body(
        "invalid_parameter", "metadata may have at most 32 keys (after the merge)", "metadata"
    )


def test_absent_deleted_foreign_and_read_only(api: Api, seed: Seed, keys: Keys, deployment: Deployment) -> None:
    # Given a deleted thread, another org's thread and a read-only key
    deleted = seed.thread()
    assert api.call("DELETE", f"/v1/threads/{deleted.id}").status == 200
    foreign = seed.thread("other")
    mine = seed.thread()
    read_only = keys.create(scopes=("read",))

    with changes_nothing(deployment):
        # Then a deleted, foreign or unknown thread is the same 404
        for thread_id in (deleted.id, foreign.id, "00000000-0000-4000-8000-000000000000", "nope"):
            reply = patch(api, thread_id, {"metadata": {"a": 1}})
            assert reply.status == 404, reply.body
            assert reply.json()["errors"][0]["code"] == "not_found"
        # And a read-only key is a 403
        assert patch(api, mine.id, {"metadata": {"a": 1}}, key=read_only).status == 403
        # And a malformed If-Match is a 400 naming it
        reply = patch(api, mine.id, {"metadata": {"a": 1}}, headers={"If-Match": "1"})
        assert (reply.status, reply.json()["errors"][0]["parameter"]) == (400, "If-Match")
