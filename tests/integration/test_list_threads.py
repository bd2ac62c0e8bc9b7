"""GET /v1/threads: list, page, filter and sort a tenant's threads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from threadline import wiring
from threadline.timeutil import now_iso
from threadline_tools.gateway import Gateway
from threadline_tools.provision import Deployment

from tests.conftest import (
    SUMMARY_FIELDS,
    Api,
    Keys,
    Seed,
    changes_nothing,
    error_body,
    invoke,
    route_event,
    stamp,
)


def ids(reply_body: dict[str, Any]) -> list[str]:
    return [thread["id"] for thread in reply_body["data"]]


def list_ids(api: Api, key: str | None = None, **query: Any) -> list[str]:
    reply = api.call("GET", "/v1/threads", query=query, key=key)
    assert reply.status == 200, reply.body
    return ids(reply.json())


def test_the_events_file_lists_the_completed_threads(seed: Seed) -> None:
    # Given completed and running threads of the events file's org
    done = [seed.thread(created=i, status="completed") for i in range(3)]
    seed.thread(created=5, status="running")

    # When the list_threads event (status=completed, newest first) is handled
    result = invoke("list_threads", route_event("list_threads.json"))

    # Then only the completed ones come back, newest first
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert ids(body) == [t.id for t in reversed(done)]
    assert (body["total_count"], body["has_more"], body["next_cursor"]) == (3, False, None)


def test_a_list_has_the_documented_shape(api: Api, seed: Seed) -> None:
    # Given one thread
    thread = seed.thread(metadata={"a": 1}, user_data="u")

    # When the threads are listed
    body = api.call("GET", "/v1/threads").json()

    # Then the reply is a list object of thread summaries (no steps)
    assert set(body) == {"object", "data", "has_more", "total_count", "next_cursor"}
    assert (body["object"], body["has_more"], body["total_count"], body["next_cursor"]) == ("list", False, 1, None)
    [summary] = body["data"]
    assert set(summary) == SUMMARY_FIELDS
    assert summary["id"] == thread.id
    assert (summary["metadata"], summary["user_data"], summary["business_id"]) == ({"a": 1}, "u", "biz-1")


def test_the_default_order_is_newest_first(api: Api, seed: Seed) -> None:
    # Given threads created one after another
    first, second, third = (seed.thread(created=i) for i in range(3))

    # When listed without a sort
    # Then newest first
    assert list_ids(api) == [third.id, second.id, first.id]


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        ("created_at", "asc", ["a", "b", "c"]),
        ("created_at", "desc", ["c", "b", "a"]),
        ("updated_at", "asc", ["b", "c", "a"]),
        ("updated_at", "desc", ["a", "c", "b"]),
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


def test_page_and_per_page(api: Api, seed: Seed) -> None:
    # Given five threads
    newest_first = [t.id for t in reversed([seed.thread(created=i) for i in range(5)])]

    # When they are read two per page
    pages = [api.call("GET", "/v1/threads", query={"page": n, "per_page": 2}).json() for n in (1, 2, 3, 4)]

    # Then each page holds its slice, with the total and whether more follow
    assert [ids(p) for p in pages] == [newest_first[0:2], newest_first[2:4], newest_first[4:], []]
    assert [p["has_more"] for p in pages] == [True, True, False, False]
    assert {p["total_count"] for p in pages} == {5}


def test_the_default_page_size_is_10(api: Api, seed: Seed) -> None:
    # Given twelve threads
    for i in range(12):
        seed.thread(created=i)

    # When listed without a size
    body = api.call("GET", "/v1/threads").json()

    # Then ten come back, and more are announced
    assert (len(body["data"]), body["has_more"], body["total_count"]) == (10, True, 12)


@pytest.mark.parametrize(("sort", "direction"), [("created_at", "desc"), ("updated_at", "asc")])
def test_cursor_paging_visits_every_thread_exactly_once(api: Api, seed: Seed, sort: str, direction: str) -> None:
    # Given thirteen threads, several sharing a timestamp
    minutes = [0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 5, 6]
    made = [seed.thread(created=m, updated=m) for m in minutes]
    seed.thread("globex", created=2)  # another org's thread in between

    # When they are read four at a time, following next_cursor
    seen: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 4, "sort": sort, "direction": direction}
    for _ in range(10):
        body = api.call("GET", "/v1/threads", query=query).json()
        seen.extend(body["data"])
        if body["next_cursor"] is None:
            assert body["has_more"] is False
            break
        assert body["has_more"] is True
        query["cursor"] = body["next_cursor"]

    # Then every thread of the org came exactly once, in order
    assert sorted(t["id"] for t in seen) == sorted(t.id for t in made)
    stamps = [t[sort] for t in seen]
    assert stamps == sorted(stamps, reverse=direction == "desc")


def test_a_cursor_keeps_working_with_filters(api: Api, seed: Seed) -> None:
    # Given five running and two completed threads
    running = [seed.thread(created=i, status="running") for i in range(5)]
    for i in range(2):
        seed.thread(created=10 + i, status="completed")

    # When the running ones are read two at a time
    first = api.call("GET", "/v1/threads", query={"status": "running", "limit": 2}).json()
    second = api.call(
        "GET", "/v1/threads", query={"status": "running", "limit": 2, "cursor": first["next_cursor"]}
    ).json()

    # Then the second page continues the first
    assert ids(first) + ids(second) == [t.id for t in reversed(running)][:4]
    # And cursor paging does not count (counting reads every match)
    assert first["total_count"] is None and second["total_count"] is None
    # While page paging over the same filter does
    assert api.call("GET", "/v1/threads", query={"status": "running", "per_page": 2}).json()["total_count"] == 5


# A cursor is a 16-byte HMAC over its JSON, then the JSON: {"m": member, "p": [positions], "t", "q"}.
def _cursor_parts(cursor: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))[16:])
    return parsed


def _signature(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))[:16]


def _encode(parts: dict[str, Any], signature: bytes = bytes(16)) -> str:
    return base64.urlsafe_b64encode(signature + json.dumps(parts).encode()).decode().rstrip("=")


def _resigned(cursor: str, secret: str, change: Any) -> str:
    """``cursor`` with its JSON changed by ``change`` and signed with ``secret``."""
    body = json.dumps(change(_cursor_parts(cursor))).encode()
    return _encode(json.loads(body), hmac.new(secret.encode(), body, hashlib.sha256).digest()[:16])


@pytest.mark.parametrize(
    ("make_cursor", "query"),
    [
        pytest.param(lambda c: "!!not-a-cursor!!", {}, id="garbage"),
        pytest.param(lambda c: "", {}, id="empty"),
        pytest.param(lambda c: _encode({"k": "x", "q": "y"}), {}, id="not-a-position"),
        pytest.param(lambda c: c, {"status": "running"}, id="from-another-filter"),
        pytest.param(lambda c: c, {"sort": "updated_at"}, id="from-another-sort"),
        pytest.param(lambda c: c, {"direction": "asc"}, id="from-another-direction"),
        pytest.param(lambda c: c, {"include_deleted": "true"}, id="from-another-deleted-view"),
        pytest.param(
            lambda c: _encode({**_cursor_parts(c), "t": "2099-01-01T00:00:00.000000Z"}, _signature(c)),
            {},
            id="tampered-same-signature",
        ),
        pytest.param(lambda c: _encode(_cursor_parts(c)), {}, id="unsigned"),
        pytest.param(
            lambda c: _resigned(c, "another-secret", lambda p: p),
            {},
            id="signed-by-another-deployment",
        ),
    ],
)
def test_a_cursor_not_from_this_list_is_400(
    api: Api, seed: Seed, deployment: Deployment, make_cursor: Any, query: dict[str, str]
) -> None:
    # Given a real next_cursor of the default list
    for i in range(3):
        seed.thread(created=i)
    cursor = api.call("GET", "/v1/threads", query={"limit": 1}).json()["next_cursor"]

    # When another (or a damaged) cursor is used
    with changes_nothing(deployment):
        reply = api.call("GET", "/v1/threads", query={"limit": 1, **query, "cursor": make_cursor(cursor)})

    # Then 400 naming the cursor
    assert reply.status == 400
    assert reply.json() == error_body("invalid_parameter", "cursor is not a next_cursor of this same list", "cursor")


def test_filters_by_subject(api: Api, seed: Seed) -> None:
    # Given threads on several subjects
    biz1 = seed.thread(context_id="biz-1")
    seed.thread(context_id="biz-2")
    person = seed.thread(context_type="person", context_id="biz-1")

    # When filtered by business_id, or by context_type and context_id
    # Then only that subject's threads come back (a person "biz-1" is not business "biz-1")
    assert list_ids(api, business_id="biz-1") == [biz1.id]
    assert list_ids(api, context_type="person", context_id="biz-1") == [person.id]
    assert list_ids(api, context_type="business", context_id="biz-1") == [biz1.id]
    assert list_ids(api, business_id="nobody") == []


def test_filters_by_type_status_and_project(api: Api, seed: Seed) -> None:
    # Given threads differing in type, status and project
    cip = seed.thread(created=1, type="cip_orchestrator", status="completed", project_id="alpha")
    other = seed.thread(created=2, type="kyb_review", status="running", project_id="beta")
    failed = seed.thread(created=3, type="cip_orchestrator", status="failed", project_id="alpha")

    # When filtered on each, and on several at once
    # Then exactly the matching threads come back
    assert list_ids(api, type="cip_orchestrator") == [failed.id, cip.id]
    assert list_ids(api, type="kyb_review") == [other.id]
    assert list_ids(api, status="completed") == [cip.id]
    assert list_ids(api, project_id="alpha") == [failed.id, cip.id]
    assert list_ids(api, project_id="alpha", status="failed", type="cip_orchestrator") == [failed.id]
    assert list_ids(api, project_id="beta", status="failed") == []


def test_metadata_filter_matches_every_given_key_exactly(api: Api, seed: Seed) -> None:
    # Given threads with overlapping metadata
    both = seed.thread(created=1, metadata={"tier": "gold", "region": "eu", "n": 1, "vip": True})
    gold_us = seed.thread(created=2, metadata={"tier": "gold", "region": "us", "n": "1"})
    seed.thread(created=3, metadata=None)

    # When filtered by metadata
    # Then every given key must equal, with JSON types respected ("1" is not 1, true is not 1)
    assert list_ids(api, metadata=json.dumps({"tier": "gold"})) == [gold_us.id, both.id]
    assert list_ids(api, metadata=json.dumps({"vip": 1})) == []
    assert list_ids(api, metadata=json.dumps({"n": 1.0})) == [both.id]
    assert list_ids(api, metadata=json.dumps({"tier": "gold", "region": "eu"})) == [both.id]
    assert list_ids(api, metadata=json.dumps({"n": 1})) == [both.id]
    assert list_ids(api, metadata=json.dumps({"n": "1"})) == [gold_us.id]
    assert list_ids(api, metadata=json.dumps({"vip": True})) == [both.id]
    assert list_ids(api, metadata=json.dumps({"tier": "gold", "absent": "x"})) == []
    assert list_ids(api, metadata="{}") == list_ids(api)


def test_deleted_threads_are_hidden_unless_asked_for(api: Api, seed: Seed) -> None:
    # Given a live thread and a deleted one
    live = seed.thread(created=1)
    gone = seed.thread(created=2, deleted=True, deleted_at=stamp(3), deleted_by="k", status="cancelled")

    # When listed with and without include_deleted
    # Then the deleted one shows only when asked for
    assert list_ids(api) == [live.id]
    assert list_ids(api, include_deleted="false") == [live.id]
    assert list_ids(api, include_deleted="true") == [gone.id, live.id]
    assert list_ids(api, include_deleted="true", status="cancelled") == [gone.id]
    assert api.call("GET", "/v1/threads").json()["total_count"] == 1


def test_another_orgs_threads_never_appear(api: Api, keys: Keys, seed: Seed) -> None:
    # Given threads of "acme" and of "globex", on the same subject
    acme = seed.thread("acme", created=1)
    globex = seed.thread("globex", created=2)

    # When each org lists, with any filter
    globex_key = keys.create("globex")

    # Then each sees only its own
    assert list_ids(api) == [acme.id]
    assert list_ids(api, key=globex_key) == [globex.id]
    assert list_ids(api, key=globex_key, business_id="biz-1") == [globex.id]
    assert list_ids(api, key=globex_key, include_deleted="true", status="running") == [globex.id]
    assert api.call("GET", "/v1/threads", key=globex_key).json()["total_count"] == 1


def test_a_project_key_lists_only_its_project(api: Api, keys: Keys, seed: Seed) -> None:
    # Given threads of projects "alpha" and "beta"
    alpha = seed.thread(created=1, project_id="alpha")
    seed.thread(created=2, project_id="beta")
    alpha_key = keys.create(project_id="alpha")

    # When the "alpha" key lists, with and without naming a project
    # Then it sees "alpha" only; naming "beta" finds nothing (no error, no leak)
    assert list_ids(api, key=alpha_key) == [alpha.id]
    assert list_ids(api, key=alpha_key, project_id="alpha") == [alpha.id]
    assert list_ids(api, key=alpha_key, project_id="beta") == []
    assert api.call("GET", "/v1/threads", key=alpha_key).json()["total_count"] == 1


def _invalid(parameter: str, message: str) -> dict[str, Any]:
    return error_body("invalid_parameter", message, parameter)


BAD_QUERIES = [
    pytest.param({"per_page": 0}, _invalid("per_page", "per_page: Input should be greater than or equal to 1")),
    pytest.param({"per_page": 101}, _invalid("per_page", "per_page: Input should be less than or equal to 100")),
    pytest.param(
        {"per_page": "ten"},
        _invalid("per_page", "per_page: Input should be a valid integer, unable to parse string as an integer"),
    ),
    pytest.param({"limit": 0}, _invalid("limit", "limit: Input should be greater than or equal to 1")),
    pytest.param({"limit": 101}, _invalid("limit", "limit: Input should be less than or equal to 100")),
    pytest.param({"page": 0}, _invalid("page", "page: Input should be greater than or equal to 1")),
    pytest.param({"sort": "name"}, _invalid("sort", "sort: Input should be 'created_at' or 'updated_at'")),
    pytest.param({"direction": "up"}, _invalid("direction", "direction: Input should be 'asc' or 'desc'")),
    pytest.param(
        {"status": "done"},
        _invalid("status", "status: Input should be 'running', 'interrupted', 'completed', 'failed' or 'cancelled'"),
    ),
    pytest.param(
        {"include_deleted": "maybe"},
        _invalid("include_deleted", "include_deleted: Input should be a valid boolean, unable to interpret input"),
    ),
    pytest.param({"org_id": "acme"}, _invalid("org_id", "org_id is not a known query parameter"), id="unknown"),
    pytest.param({"status": ["running", "failed"]}, _invalid("status", "status may be given only once"), id="repeated"),
    pytest.param({"metadata": "{not json"}, _invalid("metadata", "metadata must be a JSON object")),
    pytest.param({"metadata": "[1, 2]"}, _invalid("metadata", "metadata must be a JSON object")),
    pytest.param(
        {"metadata": '{"a": [1]}'},
        _invalid("metadata", """metadata filter: arrays are not indexed ('a'); use {"$in": [...]} for one of"""),
    ),
    pytest.param(
        {"metadata": '{"a": {"b": {}}}'},
        _invalid("metadata", "metadata filter: an empty object matches nothing indexed ('a.b')"),
    ),
    pytest.param(
        {"metadata": '{"a": {"b": {"c": {"d": {"e": 1}}}}}'},
        _invalid("metadata", "metadata filter: paths may be at most 4 keys deep ('a.b.c.d.e' is deeper)"),
        id="metadata-too-deep",
    ),
    pytest.param(
        {"metadata": '{"a": {"$gt": 1}}'},
        _invalid("metadata", "metadata filter: the only operator is $in, alone in its object ('a')"),
        id="metadata-other-operator",
    ),
    pytest.param(
        {"metadata": '{"a": {"$in": [1], "b": 2}}'},
        _invalid("metadata", "metadata filter: the only operator is $in, alone in its object ('a')"),
        id="metadata-in-with-keys",
    ),
    pytest.param(
        {"metadata": '{"$in": [1]}'},
        _invalid("metadata", "metadata filter: an operator needs a key ('$in' is at the top)"),
        id="metadata-in-at-top",
    ),
    pytest.param(
        {"metadata": '{"a": {"$in": [1]}, "b": {"$in": [2]}}'},
        _invalid("metadata", "metadata filter: at most one $in"),
        id="metadata-two-in",
    ),
    pytest.param(
        {"metadata": json.dumps({"a": {"$in": list(range(11))}})},
        _invalid("metadata", "metadata filter: $in takes a list of 1 to 10 values"),
        id="metadata-in-11-values",
    ),
    pytest.param(
        {"metadata": '{"a": {"$in": []}}'},
        _invalid("metadata", "metadata filter: $in takes a list of 1 to 10 values"),
        id="metadata-in-empty",
    ),
    pytest.param(
        {"metadata": '{"a": {"$in": [{"b": 1}]}}'},
        _invalid("metadata", "metadata filter: $in values are strings, numbers, booleans or null"),
        id="metadata-in-object",
    ),
    pytest.param(
        {"metadata": json.dumps({f"k{i}": i for i in range(33)})},
        _invalid("metadata", "metadata filter: metadata may have at most 32 keys"),
        id="metadata-33-keys",
    ),
    pytest.param({"context_type": "business"}, _invalid("context_id", "context_id is required with context_type")),
    pytest.param({"context_id": "biz-1"}, _invalid("context_type", "context_type is required with context_id")),
    pytest.param(
        {"business_id": "biz-1", "context_type": "business", "context_id": "biz-1"},
        _invalid("business_id", "give either business_id or context_type and context_id"),
    ),
    pytest.param(
        {"page": 2, "limit": 5},
        _invalid("limit", "limit pages with cursor; page pages with per_page: use one or the other"),
    ),
    pytest.param(
        {"per_page": 5, "cursor": "abc"},
        _invalid("cursor", "cursor pages with limit; page pages with per_page: use one or the other"),
    ),
]


@pytest.mark.parametrize(("query", "expected"), BAD_QUERIES)
def test_a_bad_query_is_400_naming_the_parameter(
    api: Api, seed: Seed, deployment: Deployment, query: dict[str, Any], expected: dict[str, Any]
) -> None:
    # Given a thread
    seed.thread()

    with changes_nothing(deployment):
        # When the list is asked with a bad query
        reply = api.call("GET", "/v1/threads", query=query)

    # Then 400 naming the parameter
    assert reply.status == 400
    assert reply.json() == expected


def test_a_key_without_read_scope_cannot_list(api: Api, keys: Keys) -> None:
    # Given a write-only key
    writer = keys.create(scopes=("write",))

    # When it lists
    reply = api.call("GET", "/v1/threads", key=writer)

    # Then 403
    assert reply.status == 403
    assert reply.json() == error_body("forbidden", "This API key lacks the 'read' scope")


@pytest.mark.parametrize("sort", ["created_at", "updated_at"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_a_cursor_walk_survives_writes_during_it(api: Api, seed: Seed, sort: str, direction: str) -> None:
    # Given 24 threads, walked 5 at a time
    threads = [seed.thread(created=i, updated=i + 100) for i in range(24)]
    first = api.call("GET", "/v1/threads", query={"limit": 5, "sort": sort, "direction": direction}).json()
    seen = ids(first)
    cursor = first["next_cursor"]

    # When, between pages, threads are created, updated (one already listed, one not yet) and deleted
    unseen = [t for t in threads if t.id not in seen]
    updated = {seen[0], unseen[-1].id}
    deleted = {unseen[0].id}
    created = [seed.thread(created_at=now_iso(), updated_at=now_iso()) for _ in range(3)]
    for thread_id in updated:
        assert wiring.status_store().move("acme", thread_id, "completed")
    for thread_id in deleted:
        assert api.call("DELETE", f"/v1/threads/{thread_id}").status == 200
    while cursor:
        page = api.call(
            "GET", "/v1/threads", query={"limit": 5, "sort": sort, "direction": direction, "cursor": cursor}
        )
        assert page.status == 200, page.body
        seen += ids(page.json())
        cursor = page.json()["next_cursor"]

    # Then no thread is listed twice, and every thread the writes left alone is listed once
    assert len(seen) == len(set(seen))
    untouched = {t.id for t in threads} - updated - deleted
    assert untouched <= set(seen)
    assert not deleted & set(seen[5:])
    # (threads created during the walk show up only where the walk had yet to go: the end, ascending)
    assert {t.id for t in created} & set(seen) == (
        {t.id for t in created} if direction == "asc" and sort == "created_at" else set()
    )


def test_a_walk_with_deleted_threads_lists_a_thread_deleted_during_it_once(api: Api, seed: Seed) -> None:
    # Given 8 threads, walked 3 at a time with the deleted ones included
    threads = [seed.thread(created=i) for i in range(8)]
    first = api.call("GET", "/v1/threads", query={"limit": 3, "include_deleted": "true"}).json()
    seen = ids(first)

    # When a thread of the first page is deleted (it moves to the #deleted partition, same stamp)
    assert api.call("DELETE", f"/v1/threads/{seen[1]}").status == 200
    cursor = first["next_cursor"]
    while cursor:
        page = api.call("GET", "/v1/threads", query={"limit": 3, "include_deleted": "true", "cursor": cursor}).json()
        seen += ids(page)
        cursor = page["next_cursor"]

    # Then every thread is listed exactly once, newest first
    assert seen == [t.id for t in reversed(threads)]


def test_a_cursor_of_ten_in_values_with_deleted_threads_is_accepted(api: Api, seed: Seed) -> None:
    # Given threads under ten values of one key, some deleted
    for i in range(12):
        thread = seed.thread(created=i, metadata={"tier": f"t{i % 10}"})
        if i % 3 == 0:
            assert api.call("DELETE", f"/v1/threads/{thread.id}").status == 200
    wanted = {"metadata": json.dumps({"tier": {"$in": [f"t{i}" for i in range(10)]}}), "include_deleted": "true"}

    # When the walk goes on with the longest cursor a filter makes (20 partitions, each positioned)
    seen: list[str] = []
    reply = api.call("GET", "/v1/threads", query={**wanted, "limit": 11}).json()
    seen += ids(reply)
    second = api.call("GET", "/v1/threads", query={**wanted, "limit": 11, "cursor": reply["next_cursor"]})

    # Then it is accepted and the walk completes
    assert second.status == 200, second.body
    seen += ids(second.json())
    assert (len(seen), len(set(seen)), second.json()["has_more"]) == (12, 12, False)


def test_a_page_whose_entries_are_all_stale_still_leads_on(api: Api, seed: Seed, deployment: Deployment) -> None:
    # Given two threads with a metadata pair, the newest deleted before the indexer has moved its
    # metadata item (a gateway that does not deliver the stream first)
    older = seed.thread(created=1, metadata={"tier": "gold"})
    newest = seed.thread(created=2, metadata={"tier": "gold"})
    api.call("GET", "/v1/threads")  # both indexed
    thread, _ = wiring.thread_store().get("acme", newest.id, with_steps=False)
    gone = {"deleted": True, "deleted_at": stamp(3), "deleted_by": "k", "updated_at": stamp(3), "status": "cancelled"}
    deleted = thread.model_copy(update={**gone, "version": thread.version + 1})
    assert wiring.thread_store().soft_delete(deleted, expected_version=thread.version)
    lagging = Api(Gateway(), api.key)

    # When the first page of one is asked for
    first = lagging.call("GET", "/v1/threads", query={"metadata": '{"tier": "gold"}', "limit": 1}).json()

    # Then the stale entry is not shown, yet the page leads on to the next one
    assert (first["data"], first["has_more"]) == ([], True)
    second = lagging.call(
        "GET", "/v1/threads", query={"metadata": '{"tier": "gold"}', "limit": 1, "cursor": first["next_cursor"]}
    )
    assert ids(second.json()) == [older.id]
