"""Errors every route shares: 405, unknown routes, unknown query parameters, and 500s that show nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from threadline.store.threads import ThreadStore
from threadline_tools.provision import Deployment

from tests.conftest import (
    Api,
    Seed,
    agentuity_error,
    changes_nothing,
    error_body,
    invoke,
    load_event,
)

THREAD = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"
NO_SUCH_ROUTE = {
    "success": False,
    "code": "not_found",
    "message": "No such route",
    "errors": [{"code": "not_found", "message": "No such route", "parameter": None}],
}


def test_the_events_file_is_answered_405_with_allow(deployment: Deployment) -> None:
    # Given the method_not_allowed event (PUT on a thread)
    event = load_event("method_not_allowed.json")

    # When the function handles it
    result = invoke("method_not_allowed", event)

    # Then 405, with the methods the path serves
    assert result["statusCode"] == 405
    assert result["headers"]["Allow"] == "GET, PATCH, DELETE"
    assert json.loads(result["body"]) == error_body(
        "method_not_allowed", "PUT is not allowed on /v1/threads/{thread_id}; use GET, PATCH, DELETE"
    )


@pytest.mark.parametrize(
    ("method", "path", "resource", "allow", "native"),
    [
        ("PUT", "/v1/threads", "/v1/threads", "GET, POST", True),
        ("DELETE", "/v1/threads", "/v1/threads", "GET, POST", True),
        ("PUT", f"/v1/threads/{THREAD}", "/v1/threads/{thread_id}", "GET, PATCH, DELETE", True),
        ("POST", f"/v1/threads/{THREAD}", "/v1/threads/{thread_id}", "GET, PATCH, DELETE", True),
        ("GET", f"/v1/threads/{THREAD}/restore", "/v1/threads/{thread_id}/restore", "POST", True),
        ("POST", "/thread", "/thread", "GET", False),
        ("DELETE", "/thread", "/thread", "GET", False),
        ("PUT", f"/thread/{THREAD}", "/thread/{thread_id}", "GET, DELETE", False),
    ],
)
def test_an_unknown_method_on_a_known_path_is_405(
    api: Api, deployment: Deployment, method: str, path: str, resource: str, allow: str, native: bool
) -> None:
    with changes_nothing(deployment):
        # When a path is called with a method it does not serve
        reply = api.call(method, path, body={"metadata": {"a": 1}})

    # Then 405 with an Allow header, in the path's dialect, and nothing changed
    assert reply.status == 405
    assert reply.headers["Allow"] == allow
    message = f"{method} is not allowed on {resource}; use {allow}"
    expected = error_body("method_not_allowed", message) if native else agentuity_error("method_not_allowed", message)
    assert reply.json() == expected


@pytest.mark.parametrize("path", ["/", "/v2/threads", "/v1/thread", f"/v1/threads/{THREAD}/stepz", "/threads"])
@pytest.mark.parametrize("with_key", [True, False])
def test_an_unknown_path_is_a_json_404(api: Api, path: str, with_key: bool) -> None:
    # When a path no route serves is called (with or without a key: routing comes first)
    reply = api.call("GET", path, key=None if with_key else "")

    # Then 404 with the template's JSON body
    assert (reply.status, reply.json()) == (404, NO_SUCH_ROUTE)


@pytest.mark.parametrize(
    ("method", "path", "native"),
    [
        ("POST", "/v1/threads", True),
        ("GET", f"/v1/threads/{THREAD}", True),
        ("DELETE", f"/v1/threads/{THREAD}", True),
        ("GET", f"/thread/{THREAD}", False),
        ("DELETE", f"/thread/{THREAD}", False),
    ],
)
def test_a_query_parameter_a_route_does_not_take_is_400(
    api: Api, deployment: Deployment, method: str, path: str, native: bool
) -> None:
    with changes_nothing(deployment):
        # When a route without query parameters gets one
        reply = api.call(method, path, query={"dry_run": "true"}, body={"type": "cip_orchestrator", "business_id": "b"})

    # Then 400 naming it, and nothing happened
    message = "dry_run is not a known query parameter"
    expected = (
        error_body("invalid_parameter", message, "dry_run") if native else agentuity_error("invalid_parameter", message)
    )
    assert (reply.status, reply.json()) == (400, expected)


def _explode(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("DynamoDB said: table threadline-threads, item T#acme#secret-user-data")


@pytest.mark.parametrize(
    ("method", "path", "broken", "native"),
    [
        ("POST", "/v1/threads", "create", True),
        ("GET", "/v1/threads", "list_threads", True),
        ("GET", "/v1/threads/{id}", "get", True),
        ("DELETE", "/v1/threads/{id}", "soft_delete", True),
        ("GET", "/thread", "list_threads", False),
        ("GET", "/thread/{id}", "get", False),
        ("DELETE", "/thread/{id}", "soft_delete", False),
    ],
)
def test_an_unexpected_error_is_a_generic_500(
    api: Api, seed: Seed, monkeypatch: pytest.MonkeyPatch, method: str, path: str, broken: str, native: bool
) -> None:
    # Given a thread (and the business a new one is created on), and a store that fails in a way nobody planned for
    thread = seed.thread()
    seed.business("b")
    monkeypatch.setattr(ThreadStore, broken, _explode)

    # When the route is called
    reply = api.call(method, path.replace("{id}", thread.id), body={"type": "cip_orchestrator", "business_id": "b"})

    # Then 500 with the generic body of the dialect: no message, no stack trace
    assert reply.status == 500
    expected = (
        error_body("internal_error", "Internal server error")
        if native
        else agentuity_error("internal_error", "Internal server error")
    )
    assert reply.json() == expected
    assert "secret" not in reply.body and "Traceback" not in reply.body
