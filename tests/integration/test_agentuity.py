"""The Agentuity dialect: GET /thread, GET /thread/{id}, DELETE /thread/{id}."""

from __future__ import annotations

import json
from typing import Any

import pytest
from threadline_tools.provision import Deployment

from tests.conftest import (
    AGENTUITY_FIELDS,
    Api,
    Keys,
    Seed,
    agentuity_error,
    changes_nothing,
    invoke,
    key_id,
    put_business,
    raw_thread_item,
    route_event,
    stamp,
)


def list_ids(api: Api, key: str | None = None, **query: Any) -> list[str]:
    reply = api.call("GET", "/thread", query=query, key=key)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["success"] is True
    return [thread["id"] for thread in body["data"]]


# ----- events files ----------------------------------------------------------------------------


def test_the_list_events_file_lists_newest_updates_first(seed: Seed) -> None:
    # Given threads updated in another order than created
    older_update = seed.thread(created=1, updated=2)
    newer_update = seed.thread(created=0, updated=9)

    # When the agentuity_list_threads event (sort=updated, direction=desc) is handled
    result = invoke("agentuity_list_threads", route_event("agentuity_list_threads.json"))

    # Then the most recently updated comes first
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert [t["id"] for t in body["data"]] == [newer_update.id, older_update.id]


def test_the_get_events_file_returns_the_thread(seed: Seed) -> None:
    # Given a thread of the events file's org
    thread = seed.thread("acme", metadata={"k": "v"}, user_data='{"x": 1}')

    # When the agentuity_get_thread event asks for it
    result = invoke("agentuity_get_thread", route_event("agentuity_get_thread.json", thread_id=thread.id))

    # Then {"success": true, "data": thread}
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {
        "success": True,
        "data": {
            "id": thread.id,
            "created_at": thread.created_at,
            "updated_at": thread.updated_at,
            "deleted": False,
            "deleted_at": None,
            "deleted_by": None,
            "org_id": "acme",
            "project_id": "default",
            "user_data": '{"x": 1}',
            "metadata": {"k": "v"},
        },
    }


def test_the_delete_events_file_deletes_the_thread(seed: Seed, deployment: Deployment) -> None:
    # Given a thread of the events file's org
    thread = seed.thread("acme")

    # When the agentuity_delete_thread event is handled for it
    result = invoke("agentuity_delete_thread", route_event("agentuity_delete_thread.json", thread_id=thread.id))

    # Then 200 {"success": true} (the SDK rejects an empty body), and the thread is deleted
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"success": True}
    assert raw_thread_item(deployment, "acme", thread.id)["deleted_by"] == {"S": "k3y1d0demo01"}


# ----- GET /thread/{id} ------------------------------------------------------------------------


def test_a_thread_created_natively_reads_in_this_dialect(api: Api) -> None:
    # Given a thread created through /v1
    put_business(api, "b-1")
    created = api.call(
        "POST", "/v1/threads", body={"type": "cip_orchestrator", "business_id": "b-1", "metadata": {"a": 1}}
    ).json()

    # When it is read through /thread
    reply = api.call("GET", f"/thread/{created['id']}")

    # Then it has exactly this dialect's fields, with the same values
    assert reply.status == 200
    body = reply.json()
    assert set(body) == {"success", "data"} and body["success"] is True
    assert set(body["data"]) == AGENTUITY_FIELDS
    assert {k: v for k, v in body["data"].items() if k != "updated_at"} == {
        k: created[k] for k in AGENTUITY_FIELDS - {"updated_at"}
    }


@pytest.mark.parametrize("org", ["acme", "globex"])
def test_an_unknown_or_foreign_thread_is_404(api: Api, seed: Seed, org: str) -> None:
    # Given a thread of another org, or an id that is not there
    thread_id = seed.thread("globex").id if org == "globex" else "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"

    # When it is read and deleted through /thread
    get = api.call("GET", f"/thread/{thread_id}")
    delete = api.call("DELETE", f"/thread/{thread_id}")

    # Then both are 404 in this dialect's error shape, the same either way
    expected = agentuity_error("not_found", f"No thread with id {thread_id}")
    assert (get.status, get.json()) == (404, expected)
    assert (delete.status, delete.json()) == (404, expected)


def test_an_agentuity_style_id_is_404(api: Api) -> None:
    # When an id in Agentuity's own format is read
    reply = api.call("GET", "/thread/thr_abc123")

    # Then 404
    assert (reply.status, reply.json()) == (404, agentuity_error("not_found", "No thread with id thr_abc123"))


# ----- DELETE /thread/{id} ---------------------------------------------------------------------


def test_delete_answers_success_and_hides_the_thread_in_both_dialects(api: Api, seed: Seed) -> None:
    # Given a running thread
    thread = seed.thread(status="running")

    # When it is deleted through /thread
    reply = api.call("DELETE", f"/thread/{thread.id}")

    # Then {"success": true}; it is gone from both dialects, shown only with include_deleted, and cancelled
    assert (reply.status, reply.json()) == (200, {"success": True})
    assert api.call("GET", f"/thread/{thread.id}").status == 404
    assert api.call("GET", f"/v1/threads/{thread.id}").status == 404
    assert list_ids(api) == []
    [shown] = api.call("GET", "/v1/threads", query={"include_deleted": "true"}).json()["data"]
    assert (shown["id"], shown["deleted"], shown["status"], shown["deleted_by"]) == (
        thread.id,
        True,
        "cancelled",
        key_id(api.key),
    )
    assert api.call("DELETE", f"/thread/{thread.id}").status == 404


def test_another_orgs_thread_is_not_deleted(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given a thread of "globex"
    theirs = seed.thread("globex")

    with changes_nothing(deployment):
        # When "acme" deletes it through /thread
        reply = api.call("DELETE", f"/thread/{theirs.id}")

    # Then 404 and it is untouched
    assert reply.status == 404


def test_a_key_without_write_scope_cannot_delete(api: Api, keys: Keys, seed: Seed, deployment: Deployment) -> None:
    # Given a thread and a read-only key
    thread = seed.thread()
    reader = keys.create(scopes=("read",))

    with changes_nothing(deployment):
        # When the reader deletes it
        reply = api.call("DELETE", f"/thread/{thread.id}", key=reader)

    # Then 403 in this dialect's shape
    assert (reply.status, reply.json()) == (403, agentuity_error("forbidden", "This API key lacks the 'write' scope"))


def test_a_key_without_read_scope_cannot_read(api: Api, keys: Keys, seed: Seed) -> None:
    # Given a thread and a write-only key
    thread = seed.thread()
    writer = keys.create(scopes=("write",))

    # When it reads and lists
    get = api.call("GET", f"/thread/{thread.id}", key=writer)
    listed = api.call("GET", "/thread", key=writer)

    # Then 403 for both
    expected = agentuity_error("forbidden", "This API key lacks the 'read' scope")
    assert (get.status, get.json()) == (403, expected)
    assert (listed.status, listed.json()) == (403, expected)


# ----- GET /thread -----------------------------------------------------------------------------


def test_list_shape_and_default_limit_of_10(api: Api, seed: Seed) -> None:
    # Given twelve threads
    made = [seed.thread(created=i, metadata={"i": i}) for i in range(12)]

    # When listed without parameters
    body = api.call("GET", "/thread").json()

    # Then the ten newest, each with exactly this dialect's fields
    assert set(body) == {"success", "data"}
    assert [t["id"] for t in body["data"]] == [t.id for t in reversed(made)][:10]
    assert all(set(t) == AGENTUITY_FIELDS for t in body["data"])


def test_limit_count_and_offset(api: Api, seed: Seed) -> None:
    # Given six threads
    newest_first = [t.id for t in reversed([seed.thread(created=i) for i in range(6)])]

    # When paged with limit (or its old alias count) and offset
    # Then each window is a slice of the newest-first order
    assert list_ids(api, limit=2) == newest_first[:2]
    assert list_ids(api, count=2) == newest_first[:2]
    assert list_ids(api, limit=3, count=3, offset=1) == newest_first[1:4]
    assert list_ids(api, limit=4, offset=4) == newest_first[4:]
    assert list_ids(api, offset=6) == []


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        ("created", "asc", ["a", "b", "c"]),
        ("created", "desc", ["c", "b", "a"]),
        ("updated", "asc", ["b", "c", "a"]),
        ("updated", "desc", ["a", "c", "b"]),
    ],
)
def test_sort_and_direction(api: Api, seed: Seed, sort: str, direction: str, expected: list[str]) -> None:
    # Given threads whose update order differs from their creation order
    made = {
        "a": seed.thread(created=1, updated=10),
        "b": seed.thread(created=2, updated=5),
        "c": seed.thread(created=3, updated=7),
    }

    # When listed in that order
    # Then that is the order
    assert list_ids(api, sort=sort, direction=direction) == [made[name].id for name in expected]


def test_org_and_project_filters(api: Api, keys: Keys, seed: Seed) -> None:
    # Given threads of two projects of "acme", and one of "globex"
    alpha = seed.thread(created=1, project_id="alpha")
    beta = seed.thread(created=2, project_id="beta")
    seed.thread("globex", created=3, project_id="alpha")

    # When "acme" filters by its org, another org, and by project
    # Then its own org lists its threads only; another org is an empty list, never a leak
    assert list_ids(api, orgId="acme") == [beta.id, alpha.id]
    assert list_ids(api, orgId="globex") == []
    assert list_ids(api, projectId="alpha") == [alpha.id]
    assert list_ids(api, orgId="acme", projectId="beta") == [beta.id]
    # And a key restricted to "alpha" sees "alpha" only, whatever it asks
    alpha_key = keys.create(project_id="alpha")
    assert list_ids(api, key=alpha_key) == [alpha.id]
    assert list_ids(api, key=alpha_key, projectId="beta") == []
    assert api.call("GET", f"/thread/{beta.id}", key=alpha_key).status == 404


def test_another_orgs_threads_never_appear(api: Api, keys: Keys, seed: Seed) -> None:
    # Given threads of "acme" and "globex"
    acme = seed.thread("acme", created=1)
    globex = seed.thread("globex", created=2)

    # When each lists
    # Then each sees its own
    assert list_ids(api) == [acme.id]
    assert list_ids(api, key=keys.create("globex")) == [globex.id]


def test_metadata_filter(api: Api, seed: Seed) -> None:
    # Given threads with metadata
    gold_eu = seed.thread(created=1, metadata={"tier": "gold", "region": "eu"})
    gold_us = seed.thread(created=2, metadata={"tier": "gold", "region": "us"})

    # When filtered by a JSON-serialized object
    # Then every key must match
    assert list_ids(api, metadata=json.dumps({"tier": "gold"})) == [gold_us.id, gold_eu.id]
    assert list_ids(api, metadata=json.dumps({"tier": "gold", "region": "eu"})) == [gold_eu.id]
    assert list_ids(api, metadata=json.dumps({"tier": "silver"})) == []


def test_deleted_threads_are_not_listed(api: Api, seed: Seed) -> None:
    # Given a live thread and a deleted one
    live = seed.thread(created=1)
    seed.thread(created=2, deleted=True, deleted_at=stamp(3), deleted_by="k")

    # When listed
    # Then only the live one
    assert list_ids(api) == [live.id]


def _invalid(message: str) -> dict[str, Any]:
    return agentuity_error("invalid_parameter", message)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"limit": 0}, _invalid("limit: Input should be greater than or equal to 1")),
        ({"limit": 101}, _invalid("limit: Input should be less than or equal to 100")),
        ({"count": 0}, _invalid("count: Input should be greater than or equal to 1")),
        ({"limit": 5, "count": 6}, _invalid("limit and its old alias count disagree; give one")),
        ({"offset": -1}, _invalid("offset: Input should be greater than or equal to 0")),
        ({"sort": "created_at"}, _invalid("sort: Input should be 'created' or 'updated'")),
        ({"direction": "down"}, _invalid("direction: Input should be 'asc' or 'desc'")),
        ({"metadata": "tier=gold"}, _invalid("metadata must be a JSON object")),
        (
            {"metadata": '{"tags": ["a"]}'},
            _invalid("""metadata filter: arrays are not indexed ('tags'); use {"$in": [...]} for one of"""),
        ),
        ({"page": 1}, _invalid("page is not a known query parameter")),
        ({"org_id": "acme"}, _invalid("org_id is not a known query parameter")),
        ({"limit": ["1", "2"]}, _invalid("limit may be given only once")),
    ],
)
def test_a_bad_query_is_400(
    api: Api, seed: Seed, deployment: Deployment, query: dict[str, Any], expected: dict[str, Any]
) -> None:
    # Given a thread
    seed.thread()

    with changes_nothing(deployment):
        # When listed with a bad query
        reply = api.call("GET", "/thread", query=query)

    # Then 400 in this dialect's error shape
    assert (reply.status, reply.json()) == (400, expected)
