"""GET /v1/threads/{id}/steps (cursor-paginated), and a thread's steps and updated_at as the
workflow records them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from threadline import clients
from threadline.models.domain import Thread
from threadline_tools.provision import Deployment

from tests.conftest import (
    Api,
    Keys,
    Seed,
    changes_nothing,
    error_body,
    invoke,
    raw_thread_item,
    route_event,
    seed_steps,
    start_thread,
    wait_for_thread,
)

ALL_STEPS = {
    "business_record": "completed",
    "tin_check": "completed",
    "address_check": "completed",
    "watchlist_screening": "completed",
    "decision": "completed",
    "human_review": "waiting",
}


@pytest.fixture
def six_steps(seed: Seed) -> Thread:
    """A thread waiting at its human review, its six steps seeded (no workflow)."""
    thread = seed.thread(status="interrupted")
    seed_steps(thread, ALL_STEPS)
    return thread


def pages(api: Api, thread_id: str, limit: int, key: str | None = None) -> Iterator[dict[str, Any]]:
    """Every page of the thread's steps, following next_cursor."""
    query: dict[str, Any] = {"limit": limit}
    for _ in range(20):  # a cursor that never ends would otherwise loop forever
        reply = api.call("GET", f"/v1/threads/{thread_id}/steps", query=query, key=key)
        assert reply.status == 200, reply.body
        page: dict[str, Any] = reply.json()
        yield page
        if page["next_cursor"] is None:
            return
        query = {"limit": limit, "cursor": page["next_cursor"]}
    raise AssertionError("pagination did not end")


def test_the_events_file_lists_the_first_page(seed: Seed) -> None:
    # Given the events file's thread with its six steps
    event = route_event("list_steps.json")
    thread = seed.thread("acme", id=event["pathParameters"]["thread_id"], status="interrupted")
    seed_steps(thread, ALL_STEPS)

    # When the list_steps event (limit 2) is handled
    result = invoke("list_steps", event)

    # Then 200 with the first two steps and a cursor to the rest
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert set(body) == {"object", "data", "has_more", "next_cursor"}
    assert (body["object"], [s["name"] for s in body["data"]], body["has_more"]) == (
        "list",
        ["business_record", "tin_check"],
        True,
    )
    assert isinstance(body["next_cursor"], str)


PAGE_SIZES = {2: [2, 2, 2], 5: [5, 1], 6: [6]}  # even pages, a remainder, a page ending at the last step


def test_cursor_pages_visit_every_step_once_in_order(api: Api, six_steps: Thread) -> None:
    # Given a thread with six steps
    expected = api.call("GET", f"/v1/threads/{six_steps.id}").json()["steps"]
    assert [s["name"] for s in expected] == list(ALL_STEPS)

    # When its steps are read page by page, with several page sizes
    visited = {limit: list(pages(api, six_steps.id, limit)) for limit in PAGE_SIZES}

    # Then the pages hold every step once, in the order they started, exactly as GET shows them,
    # and only the last page says there is more to come (none is ever empty)
    assert {limit: [len(page["data"]) for page in got] for limit, got in visited.items()} == PAGE_SIZES
    for limit, got in visited.items():
        assert [step for page in got for step in page["data"]] == expected, limit
        assert [page["has_more"] for page in got] == [True] * (len(got) - 1) + [False], limit


def test_a_thread_without_steps_has_an_empty_list(api: Api, seed: Seed) -> None:
    # Given a thread whose workflow has recorded nothing yet
    thread = seed.thread()

    # When its steps are listed
    reply = api.call("GET", f"/v1/threads/{thread.id}/steps")

    # Then an empty list
    assert reply.status == 200
    assert reply.json() == {"object": "list", "data": [], "has_more": False, "next_cursor": None}


def _cursor(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid(parameter: str, message: str) -> dict[str, Any]:
    return error_body("invalid_parameter", message, parameter)


NOT_A_CURSOR = _invalid("cursor", "cursor is not a next_cursor of this thread's steps")
BAD_QUERIES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"limit": 0}, _invalid("limit", "limit: Input should be greater than or equal to 1")),
    ({"limit": 101}, _invalid("limit", "limit: Input should be less than or equal to 100")),
    (
        {"limit": "two"},
        _invalid("limit", "limit: Input should be a valid integer, unable to parse string as an integer"),
    ),
    ({"limit": ["1", "2"]}, _invalid("limit", "limit may be given only once")),
    ({"cursor": "!!!"}, NOT_A_CURSOR),
    ({"cursor": _cursor("THREAD")}, NOT_A_CURSOR),
    ({"cursor": _cursor(b"\xff\xfe\x00")}, NOT_A_CURSOR),
    ({"cursor": "A" * 513}, _invalid("cursor", "cursor: String should have at most 512 characters")),
    ({"page": 2}, _invalid("page", "page is not a known query parameter")),
]


def test_a_bad_query_is_400_naming_the_parameter(api: Api, six_steps: Thread, deployment: Deployment) -> None:
    # Given a thread with steps
    with changes_nothing(deployment):
        # When its steps are listed with bad queries
        replies = [api.call("GET", f"/v1/threads/{six_steps.id}/steps", query=query) for query, _ in BAD_QUERIES]

    # Then each is 400 naming the parameter, and nothing changes
    assert [(r.status, r.json()) for r in replies] == [(400, expected) for _, expected in BAD_QUERIES]


def test_only_the_threads_tenant_with_read_scope_lists_its_steps(
    api: Api, keys: Keys, seed: Seed, deployment: Deployment
) -> None:
    # Given threads with steps of "globex" and of "acme"'s project "beta"
    theirs, beta = seed.thread("globex"), seed.thread(project_id="beta")
    seed_steps(theirs, {"business_record": "running"})
    seed_steps(beta, {"business_record": "running"})
    unknown = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"

    # When keys that may not see them list their steps
    other_org = api.call("GET", f"/v1/threads/{theirs.id}/steps")
    other_project = api.call("GET", f"/v1/threads/{beta.id}/steps", key=keys.create(project_id="alpha"))
    missing = api.call("GET", f"/v1/threads/{unknown}/steps")
    writer = api.call("GET", f"/v1/threads/{beta.id}/steps", key=keys.create(scopes=("write",)))

    # Then 404 exactly as for a thread that does not exist, and 403 without the read scope
    def not_found(thread_id: str) -> tuple[int, dict[str, Any]]:
        return 404, error_body("not_found", f"No thread with id {thread_id}", "id")

    assert (other_org.status, other_org.json()) == not_found(theirs.id)
    assert (other_project.status, other_project.json()) == not_found(beta.id)
    assert (missing.status, missing.json()) == not_found(unknown)
    assert (writer.status, writer.json()) == (403, error_body("forbidden", "This API key lacks the 'read' scope"))
    # And the owners see them
    assert api.call("GET", f"/v1/threads/{theirs.id}/steps", key=keys.create("globex")).status == 200


# ----- steps as the workflow records them ------------------------------------------------------


def test_a_runs_steps_move_the_threads_updated_at_and_read_back_in_one_query(api: Api, deployment: Deployment) -> None:
    # Given a thread just created
    created = start_thread(api, "clean")
    assert created["updated_at"] == created["created_at"]

    # When its workflow completes
    thread = wait_for_thread(api, deployment, created["id"], "completed")

    # Then updated_at moved on with every step: it is at or after every step's last change
    assert thread["status"] == "completed"
    assert thread["updated_at"] > created["updated_at"]
    changes = [s["started_at"] for s in thread["steps"]] + [s["completed_at"] for s in thread["steps"]]
    assert thread["updated_at"] >= max(changes)
    # And each step rewrote the thread once, when it ended (its start only checked the thread),
    # and the run's end once more (version counts the thread's changes: 1 at creation)
    assert raw_thread_item(deployment, "acme", created["id"])["version"] == {"N": str(1 + 5 + 1)}

    # When the thread and its steps are read
    with dynamodb_calls() as calls:
        got = api.call("GET", f"/v1/threads/{created['id']}").json()
    listed = api.call("GET", f"/v1/threads/{created['id']}/steps").json()

    # Then GET returns the thread and its steps, in plan order, from one Query of the threads table
    assert got == thread
    assert [s["name"] for s in got["steps"]] == [
        "business_record",
        "tin_check",
        "address_check",
        "watchlist_screening",
        "decision",
    ]
    assert [call for call in calls if call[1] == deployment.threads_table] == [("Query", deployment.threads_table)]
    # And the steps route lists the same steps
    assert (listed["data"], listed["has_more"], listed["next_cursor"]) == (got["steps"], False, None)


@contextmanager
def dynamodb_calls() -> Iterator[list[tuple[str, str]]]:
    """(operation, table) of every call the functions' DynamoDB client makes in the block."""
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params.get("TableName", "")))

    events = clients.dynamodb().meta.events
    events.register("provide-client-params.dynamodb", record, unique_id="test-steps-calls")
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.dynamodb", unique_id="test-steps-calls")
