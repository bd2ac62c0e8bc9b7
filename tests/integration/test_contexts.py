"""PUT / GET / DELETE /v1/contexts/{context_type}/{context_id}: the documents threads work on."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from threadline import clients
from threadline.api.native.models import CONTEXT_TYPE_PATTERN, IDENTIFIER_PATTERN
from threadline.models.contexts import MAX_CONTEXT_BYTES
from threadline.models.limits import MAX_BODY_BYTES
from threadline.store import keys as store_keys
from threadline.store.contexts import ContextStore
from threadline_tools.provision import Deployment

from tests.conftest import (
    TIMESTAMP,
    Api,
    Keys,
    Seed,
    changes_nothing,
    error_body,
    invoke,
    load_event,
    sample_business,
)

CONTEXT_FIELDS = {"object", "context_type", "context_id", "org_id", "document", "created_at", "updated_at"}
PATH = "/v1/contexts/business/biz-1"
EVENT_BUSINESS = "b6f4c0de-2a7e-4d0b-9d1c-5be0c3f1a9e2"  # the business of events/*_context.json


def raw_context_item(deployment: Deployment, org_id: str, context_type: str, context_id: str) -> dict[str, Any]:
    """The context's item exactly as DynamoDB stores it."""
    key = {name: {"S": value} for name, value in store_keys.context_key(org_id, context_type, context_id).items()}
    return clients.dynamodb().get_item(TableName=deployment.threads_table, Key=key).get("Item", {})


def not_found(context_id: str, context_type: str = "business") -> dict[str, Any]:
    return error_body("not_found", f"No {context_type} with id {context_id}", "context_id")


# ----- events files ----------------------------------------------------------------------------


def test_the_put_events_file_creates_the_business(deployment: Deployment) -> None:
    # Given the put_context event of events/, as `sam local invoke` sends it
    event = load_event("put_context.json")

    # When the function handles it
    result = invoke("put_context", event)

    # Then 201 with the stored context of the event's org
    assert result["statusCode"] == 201
    body = json.loads(result["body"])
    assert set(body) == CONTEXT_FIELDS
    assert (body["object"], body["org_id"], body["context_type"], body["context_id"]) == (
        "context",
        "acme",
        "business",
        EVENT_BUSINESS,
    )
    assert body["document"] == json.loads(event["body"])
    assert raw_context_item(deployment, "acme", "business", EVENT_BUSINESS)["document_json"]["S"]


def test_the_get_events_file_returns_the_business(seed: Seed) -> None:
    # Given the events file's business, stored for its org
    seed.context("business", EVENT_BUSINESS, document={"name": "Acme Holdings LLC"})

    # When the get_context event asks for it
    result = invoke("get_context", load_event("get_context.json"))

    # Then 200 with the document
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["document"] == {"name": "Acme Holdings LLC"}


def test_the_delete_events_file_deletes_the_business(seed: Seed, deployment: Deployment) -> None:
    # Given the events file's business, stored for its org
    seed.context("business", EVENT_BUSINESS)

    # When the delete_context event is handled
    result = invoke("delete_context", load_event("delete_context.json"))

    # Then 200 with the context as it was, marked deleted, and it is gone
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert (body["deleted"], body["context_id"], body["document"]) == (True, EVENT_BUSINESS, sample_business())
    assert raw_context_item(deployment, "acme", "business", EVENT_BUSINESS) == {}


# ----- PUT and GET -----------------------------------------------------------------------------


def test_put_creates_201_then_replaces_200_keeping_created_at(api: Api) -> None:
    # Given no context yet
    # When a business is PUT, read, PUT again with another document, and read again
    created = api.call("PUT", PATH, body={"name": "Acme", "tin": {"tin": "12-3456789"}})
    first_read = api.call("GET", PATH)
    replaced = api.call("PUT", PATH, body={"name": "Acme Holdings LLC"})
    second_read = api.call("GET", PATH)

    # Then the first PUT is 201 with the documented shape
    assert created.status == 201
    assert created.headers["Content-Type"] == "application/json"
    body = created.json()
    assert set(body) == CONTEXT_FIELDS
    assert re.fullmatch(TIMESTAMP, body["created_at"]) and body["updated_at"] == body["created_at"]
    assert {k: v for k, v in body.items() if k not in {"created_at", "updated_at"}} == {
        "object": "context",
        "context_type": "business",
        "context_id": "biz-1",
        "org_id": "acme",
        "document": {"name": "Acme", "tin": {"tin": "12-3456789"}},
    }
    assert (first_read.status, first_read.json()) == (200, body)
    # And the second replaces the whole document (no merge): 200, created_at kept, updated_at moved on
    assert replaced.status == 200
    again = replaced.json()
    assert again["document"] == {"name": "Acme Holdings LLC"}
    assert again["created_at"] == body["created_at"] and again["updated_at"] >= body["updated_at"]
    assert (second_read.status, second_read.json()) == (200, again)


def test_any_json_object_round_trips_exactly(api: Api, deployment: Deployment) -> None:
    # Given a document with what a DynamoDB map would mangle: big and precise numbers, floats,
    # empty containers, nulls, deep nesting, unicode
    document: dict[str, Any] = {
        "big": 12345678901234567890123456789012345678901234567890,
        "precise": 0.1,
        "tiny": 1e-300,
        "negative": -0.0005,
        "empty_list": [],
        "empty_object": {},
        "nothing": None,
        "flags": [True, False],
        "deep": {"a": {"b": {"c": {"d": [[[[{"e": "f"}]]]]}}}},
        "name": "Société Générale — 東京",
        "": "an empty key",
    }

    # When it is PUT and read back
    put = api.call("PUT", "/v1/contexts/business/biz-json", body=document)
    got = api.call("GET", "/v1/contexts/business/biz-json")

    # Then it is exactly the same JSON, stored as one JSON string attribute
    assert put.json()["document"] == document
    assert got.json()["document"] == document
    item = raw_context_item(deployment, "acme", "business", "biz-json")
    assert json.loads(item["document_json"]["S"]) == document
    assert set(item) == {
        "pk",
        "sk",
        "org_id",
        "context_type",
        "context_id",
        "document_json",
        "created_at",
        "updated_at",
    }
    # And it stays out of the listing indexes (no gsi_* attribute): it is not a thread
    assert api.call("GET", "/v1/threads").json()["data"] == []


def test_other_context_types_and_identifier_shapes(api: Api) -> None:
    # Given context types other than business, and ids using every allowed character
    paths = ["/v1/contexts/watchlist/ofac-sdn", "/v1/contexts/person/P.1:a_b-c", f"/v1/contexts/business/{'x' * 128}"]

    # When each is PUT and read
    # Then each is stored under its own type and id
    for path in paths:
        _, _, context_type, context_id = path.strip("/").split("/")
        assert api.call("PUT", path, body={"path": path}).status == 201
        got = api.call("GET", path).json()
        assert (got["context_type"], got["context_id"], got["document"]) == (context_type, context_id, {"path": path})


def test_the_same_id_under_two_types_are_two_contexts(api: Api) -> None:
    # Given a business and a person with the same id
    api.call("PUT", "/v1/contexts/business/x-1", body={"kind": "business"})
    api.call("PUT", "/v1/contexts/person/x-1", body={"kind": "person"})

    # When each is read
    # Then each is its own document
    assert api.call("GET", "/v1/contexts/business/x-1").json()["document"] == {"kind": "business"}
    assert api.call("GET", "/v1/contexts/person/x-1").json()["document"] == {"kind": "person"}


def test_a_document_of_exactly_64kb_is_accepted(api: Api) -> None:
    # Given a document exactly at the limit as compact JSON (multi-byte characters count in bytes)
    overhead = len(json.dumps({"notes": "", "name": "é"}, separators=(",", ":"), ensure_ascii=False).encode())
    document = {"notes": "x" * (MAX_CONTEXT_BYTES - overhead), "name": "é"}

    # When it is PUT, pretty-printed (whitespace is not stored, so it does not count)
    reply = api.call("PUT", PATH, raw_body=json.dumps(document, indent=4, ensure_ascii=False))

    # Then it is stored
    assert reply.status == 201
    assert api.call("GET", PATH).json()["document"] == document


def test_a_missing_context_is_404(api: Api, seed: Seed) -> None:
    # Given some other business exists
    seed.business("biz-1")

    # When an absent one is read
    reply = api.call("GET", "/v1/contexts/business/biz-2")

    # Then 404 naming context_id, worded as Middesk words it
    assert reply.status == 404
    assert reply.json() == not_found("biz-2")
    assert api.call("GET", "/v1/contexts/watchlist/biz-1").json() == not_found("biz-1", "watchlist")


@pytest.mark.parametrize(
    ("context_type", "context_id", "shown"),
    [
        pytest.param("Business", "biz-1", "biz-1", id="upper-case-type"),
        pytest.param("business", "-biz", "-biz", id="id-starting-with-a-dash"),
        pytest.param("business", "x" * 129, "x" * 128, id="id-too-long"),
        pytest.param("business", "x" * 3000, "x" * 128, id="longer-than-a-dynamodb-key"),
        pytest.param("b" * 65, "biz-1", "biz-1", id="type-too-long"),
    ],
)
def test_a_path_that_cannot_name_a_context_is_404_on_get_and_delete(
    api: Api, seed: Seed, deployment: Deployment, context_type: str, context_id: str, shown: str
) -> None:
    # Given a stored business (the invalid paths must not reach it)
    seed.business("biz-1")

    with changes_nothing(deployment):
        # When a path no context can have is read and deleted
        get = api.call("GET", f"/v1/contexts/{context_type}/{context_id}")
        delete = api.call("DELETE", f"/v1/contexts/{context_type}/{context_id}")

    # Then both are 404, exactly like a context that does not exist (no DynamoDB error for a long key)
    expected = error_body("not_found", f"No {context_type[:64]} with id {shown}", "context_id")
    assert (get.status, get.json()) == (404, expected)
    assert (delete.status, delete.json()) == (404, expected)


# ----- DELETE ----------------------------------------------------------------------------------


def test_delete_answers_the_context_as_it_was_and_a_second_delete_is_404(api: Api, deployment: Deployment) -> None:
    # Given a stored business
    stored = api.call("PUT", PATH, body={"name": "Acme"}).json()

    # When it is deleted, read, and deleted again
    deleted = api.call("DELETE", PATH)
    read = api.call("GET", PATH)
    again = api.call("DELETE", PATH)

    # Then the delete answers 200 with the context as it was and deleted: true; it is gone for good
    assert deleted.status == 200
    assert deleted.json() == {**stored, "deleted": True}
    assert (read.status, read.json()) == (404, not_found("biz-1"))
    assert (again.status, again.json()) == (404, not_found("biz-1"))
    assert raw_context_item(deployment, "acme", "business", "biz-1") == {}


def test_a_deleted_context_can_be_put_again_as_new(api: Api) -> None:
    # Given a business that was stored and deleted
    first = api.call("PUT", PATH, body={"v": 1}).json()
    api.call("DELETE", PATH)

    # When it is PUT again
    reply = api.call("PUT", PATH, body={"v": 2})

    # Then it is created anew: 201
    assert reply.status == 201
    assert reply.json()["document"] == {"v": 2}
    assert reply.json()["created_at"] >= first["created_at"]


# ----- tenancy ---------------------------------------------------------------------------------


def test_another_orgs_context_is_404_exactly_like_a_missing_one(api: Api, keys: Keys, deployment: Deployment) -> None:
    # Given a business of org "globex"
    globex = keys.create("globex")
    theirs = api.call("PUT", PATH, body={"owner": "globex"}, key=globex).json()

    with changes_nothing(deployment):
        # When a key of "acme" reads and deletes it
        get = api.call("GET", PATH)
        delete = api.call("DELETE", PATH)

    # Then both are 404, the same answer as for a business that does not exist
    assert (get.status, get.json()) == (404, not_found("biz-1"))
    assert (delete.status, delete.json()) == (404, not_found("biz-1"))
    assert api.call("GET", PATH, key=globex).json() == theirs


def test_each_org_has_its_own_context_under_the_same_id(api: Api, keys: Keys) -> None:
    # Given "globex" stored business biz-1
    globex = keys.create("globex")
    api.call("PUT", PATH, body={"owner": "globex"}, key=globex)

    # When "acme" PUTs its own biz-1
    mine = api.call("PUT", PATH, body={"owner": "acme"})

    # Then acme's is created (201, not a replacement of globex's), and each org reads its own
    assert mine.status == 201
    assert api.call("GET", PATH).json()["document"] == {"owner": "acme"}
    assert api.call("GET", PATH, key=globex).json()["document"] == {"owner": "globex"}
    assert (api.call("GET", PATH).json()["org_id"], api.call("GET", PATH, key=globex).json()["org_id"]) == (
        "acme",
        "globex",
    )


def test_a_project_key_reads_and_writes_its_orgs_contexts(api: Api, keys: Keys) -> None:
    # Given a business stored by an unrestricted key, and a key restricted to project "alpha"
    api.call("PUT", PATH, body={"v": 1})
    alpha = keys.create(project_id="alpha")

    # When the project key reads and replaces it, and another project's key reads it
    read = api.call("GET", PATH, key=alpha)
    replaced = api.call("PUT", PATH, body={"v": 2}, key=alpha)
    beta_read = api.call("GET", PATH, key=keys.create(project_id="beta"))

    # Then contexts are the org's: every project of the org sees the same document
    assert (read.status, replaced.status) == (200, 200)
    assert beta_read.json()["document"] == {"v": 2}


# ----- bad input changes nothing ---------------------------------------------------------------

# The body of both 413 cases below is {"notes":"..."}: 12 bytes more than the string it holds.
TOO_LARGE = error_body(
    "payload_too_large",
    f"Context document must be at most {MAX_CONTEXT_BYTES} bytes as compact JSON (it is {MAX_CONTEXT_BYTES + 12})",
)

BAD_PUTS = [
    pytest.param(PATH, "{not json", 400, error_body("invalid_json", "Request body is not valid JSON"), id="malformed"),
    pytest.param(PATH, None, 400, error_body("invalid_parameter", "Request body is required"), id="no-body"),
    pytest.param(PATH, "null", 400, error_body("invalid_parameter", "Request body is required"), id="null-body"),
    pytest.param(PATH, "[]", 400, error_body("invalid_json", "Request body must be a JSON object"), id="array-body"),
    pytest.param(
        PATH, '"a string"', 400, error_body("invalid_json", "Request body must be a JSON object"), id="string-body"
    ),
    pytest.param(PATH, "42", 400, error_body("invalid_json", "Request body must be a JSON object"), id="number-body"),
    pytest.param(
        PATH,
        '{"score": NaN}',
        400,
        error_body("invalid_parameter", "Context document numbers must be finite (NaN and Infinity are not JSON)"),
        id="nan",
    ),
    pytest.param(
        PATH,
        '{"score": 1e400}',
        400,
        error_body("invalid_parameter", "Context document numbers must be finite (NaN and Infinity are not JSON)"),
        id="infinite-number",
    ),
    pytest.param(
        PATH,
        '{"name": "\\ud800"}',
        400,
        error_body("invalid_json", "Request body has invalid Unicode (a lone surrogate escape)"),
        id="lone-surrogate",
    ),
    pytest.param(
        PATH,
        json.dumps({"notes": "x" * MAX_CONTEXT_BYTES}),
        413,
        TOO_LARGE,
        id="document-over-64kb",
    ),
    pytest.param(
        PATH,
        json.dumps({"notes": "é" * (MAX_CONTEXT_BYTES // 2)}, ensure_ascii=False),
        413,
        TOO_LARGE,
        id="document-over-64kb-multibyte",
    ),
    pytest.param(
        PATH,
        json.dumps({"notes": "x" * MAX_BODY_BYTES}),
        413,
        error_body("payload_too_large", f"Request body must be at most {MAX_BODY_BYTES} bytes"),
        id="body-over-1mb",
    ),
    pytest.param(
        "/v1/contexts/Business/biz-1",
        "{}",
        400,
        error_body(
            "invalid_parameter", f"context_type: String should match pattern '{CONTEXT_TYPE_PATTERN}'", "context_type"
        ),
        id="context-type-pattern",
    ),
    pytest.param(
        f"/v1/contexts/business/{'x' * 129}",
        "{}",
        400,
        error_body(
            "invalid_parameter", f"context_id: String should match pattern '{IDENTIFIER_PATTERN}'", "context_id"
        ),
        id="context-id-too-long",
    ),
    pytest.param(
        "/v1/contexts/business/.biz",
        "{}",
        400,
        error_body(
            "invalid_parameter", f"context_id: String should match pattern '{IDENTIFIER_PATTERN}'", "context_id"
        ),
        id="context-id-pattern",
    ),
]


@pytest.mark.parametrize(("path", "raw_body", "status", "expected"), BAD_PUTS)
def test_a_bad_put_is_rejected_and_changes_nothing(
    api: Api, seed: Seed, deployment: Deployment, path: str, raw_body: str | None, status: int, expected: Any
) -> None:
    # Given a stored business, so that "nothing changed" has something to watch
    seed.business("biz-1", document={"kept": True})

    with changes_nothing(deployment):
        # When a bad document (or a path no context can have) is PUT
        reply = api.call("PUT", path, raw_body=raw_body)

    # Then the error says what is wrong, and the stored document is untouched
    assert reply.status == status
    assert reply.json() == expected
    assert api.call("GET", PATH).json()["document"] == {"kept": True}


@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_a_query_parameter_is_400(api: Api, seed: Seed, deployment: Deployment, method: str) -> None:
    # Given a stored business
    seed.business("biz-1")

    with changes_nothing(deployment):
        # When a route is called with a query parameter none of them takes
        reply = api.call(method, PATH, body={"v": 1}, query={"merge": "true"})

    # Then 400 naming it
    assert reply.status == 400
    assert reply.json() == error_body("invalid_parameter", "merge is not a known query parameter", "merge")


@pytest.mark.parametrize(
    ("method", "scopes", "missing"),
    [("PUT", ("read",), "write"), ("DELETE", ("read",), "write"), ("GET", ("write",), "read")],
)
def test_each_route_needs_its_scope(
    api: Api, keys: Keys, seed: Seed, deployment: Deployment, method: str, scopes: tuple[str, ...], missing: str
) -> None:
    # Given a stored business and a key lacking the route's scope
    seed.business("biz-1")
    key = keys.create(scopes=scopes)

    with changes_nothing(deployment):
        # When the key calls the route
        reply = api.call(method, PATH, body={"v": 1}, key=key)

    # Then 403, nothing changed
    assert reply.status == 403
    assert reply.json() == error_body("forbidden", f"This API key lacks the '{missing}' scope")


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_method_the_path_does_not_serve_is_405(api: Api, deployment: Deployment, method: str) -> None:
    with changes_nothing(deployment):
        # When the context path is called with a method it does not serve
        reply = api.call(method, PATH, body={"v": 1})

    # Then 405 listing the methods it serves
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET, PUT, DELETE"
    assert reply.json() == error_body(
        "method_not_allowed",
        f"{method} is not allowed on /v1/contexts/{{context_type}}/{{context_id}}; use GET, PUT, DELETE",
    )


@pytest.mark.parametrize("path", ["/v1/contexts", "/v1/contexts/business", "/v1/contexts/business/biz-1/threads"])
def test_paths_beside_a_context_are_no_route(api: Api, path: str) -> None:
    # When a path that names no single context is called
    reply = api.call("GET", path)

    # Then it is the gateway's 404 (there is no list of contexts)
    assert reply.status == 404
    assert reply.json()["code"] == "not_found"


def _explode(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("DynamoDB said: item C#acme#business#secret-business")


@pytest.mark.parametrize(("method", "broken"), [("PUT", "put"), ("GET", "get"), ("DELETE", "delete")])
def test_an_unexpected_error_is_a_generic_500(
    api: Api, monkeypatch: pytest.MonkeyPatch, method: str, broken: str
) -> None:
    # Given a store that fails in a way nobody planned for
    monkeypatch.setattr(ContextStore, broken, _explode)

    # When the route is called
    reply = api.call(method, PATH, body={"v": 1})

    # Then 500 with the generic body: no message, no stack trace
    assert reply.status == 500
    assert reply.json() == error_body("internal_error", "Internal server error")
    assert "secret" not in reply.body and "Traceback" not in reply.body
