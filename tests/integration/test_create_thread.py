"""POST /v1/threads: create a thread and start its workflow."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from threadline.models.domain import IDENTIFIER_PATTERN
from threadline.models.limits import MAX_BODY_BYTES
from threadline.workflow.executions import WorkflowRunner
from threadline_tools.provision import Deployment

from tests.conftest import (
    THREAD_FIELDS,
    TIMESTAMP,
    Api,
    Keys,
    Seed,
    changes_nothing,
    error_body,
    executions,
    invoke,
    key_id,
    load_event,
    put_business,
    raw_thread_item,
    route_event,
    settle,
    table_items,
    thread_items,
    wait_for_status,
)

VALID = {"type": "cip_orchestrator", "business_id": "biz-42"}
EVENT_BUSINESS = json.loads(load_event("create_thread.json")["body"])["business_id"]


@pytest.fixture(autouse=True)
def _businesses(seed: Seed) -> None:
    """The businesses these tests create threads on exist (POST /v1/threads is a 404 otherwise)."""
    seed.business("biz-42", "biz-7", EVENT_BUSINESS)


def test_the_events_file_creates_a_running_thread_and_starts_its_workflow(deployment: Deployment) -> None:
    # Given the create_thread event of events/, as `sam local invoke` sends it
    event = load_event("create_thread.json")

    # When the function handles it
    result = invoke("create_thread", event)

    # Then it answers 201 with the new thread, stored, and its execution named after it
    assert result["statusCode"] == 201
    thread = json.loads(result["body"])
    sent = json.loads(event["body"])
    assert thread["status"] == "running"
    assert thread["business_id"] == sent["business_id"]
    assert thread["metadata"] == sent["metadata"]
    assert thread["user_data"] == sent["user_data"]
    assert thread["requester"] == {"type": "api_key", "id": "k3y1d0demo01", "name": "sample key"}
    assert raw_thread_item(deployment, "acme", thread["id"])["status"] == {"S": "running"}
    assert thread["id"] in [e["name"] for e in executions(deployment)]


def test_created_thread_has_the_documented_shape(api: Api) -> None:
    # Given a create request with every optional field
    body = {
        "type": "cip_orchestrator",
        "business_id": "biz-42",
        "project_id": "onboarding",
        "metadata": {"source": "crm", "priority": 1, "flags": {"vip": True}},
        "user_data": '{"note": "call back"}',
    }

    # When it is posted
    reply = api.call("POST", "/v1/threads", body=body)

    # Then 201 with exactly the thread fields, filled from the request and the key
    assert reply.status == 201
    assert reply.headers["Content-Type"] == "application/json"
    thread = reply.json()
    assert set(thread) == THREAD_FIELDS
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", thread["id"])
    assert re.fullmatch(TIMESTAMP, thread["created_at"])
    assert thread["updated_at"] == thread["created_at"]
    assert {k: v for k, v in thread.items() if k not in {"id", "created_at", "updated_at"}} == {
        "object": "thread",
        "type": "cip_orchestrator",
        "status": "running",
        "org_id": "acme",
        "project_id": "onboarding",
        "context_type": "business",
        "context_id": "biz-42",
        "business_id": "biz-42",
        "metadata": {"source": "crm", "priority": 1, "flags": {"vip": True}},
        "user_data": '{"note": "call back"}',
        "requester": {"type": "api_key", "id": key_id(api.key), "name": "test key of acme"},
        "deleted": False,
        "deleted_at": None,
        "deleted_by": None,
        "steps": [],
    }


def test_context_type_and_id_name_the_subject(api: Api) -> None:
    # Given a subject named by context_type and context_id instead of business_id
    body = {"type": "cip_orchestrator", "context_type": "business", "context_id": "biz-7"}

    # When it is posted
    thread = api.call("POST", "/v1/threads", body=body).json()

    # Then the thread works on that context, shown as business_id as well
    assert (thread["context_type"], thread["context_id"], thread["business_id"]) == ("business", "biz-7", "biz-7")
    assert thread["project_id"] == "default"
    assert thread["metadata"] is None and thread["user_data"] is None


def test_user_data_is_encrypted_at_rest(api: Api, deployment: Deployment) -> None:
    # Given a thread created with a recognisable user_data
    secret = "account number 1234-5678-SECRET"
    thread = api.call("POST", "/v1/threads", body={**VALID, "user_data": secret}).json()

    # When its items are read straight from DynamoDB
    item = raw_thread_item(deployment, "acme", thread["id"])
    stored = [i for i in table_items(deployment) if i["pk"] == item["pk"] and "user_data_enc" in i]

    # Then only ciphertext is stored, in the user data item (context fields stay plain: they are
    # listed by), and the API decrypts it
    assert "user_data" not in item and "user_data_enc" not in item
    assert [i["sk"]["S"] for i in stored] == ["USER_DATA"]
    assert secret.encode() not in stored[0]["user_data_enc"]["B"]
    assert secret not in json.dumps(
        [{k: v for k, v in i.items() if k != "user_data_enc"} for i in table_items(deployment)]
    )
    assert item["context_id"] == {"S": "biz-42"} and item["context_type"] == {"S": "business"}
    assert api.call("GET", f"/v1/threads/{thread['id']}").json()["user_data"] == secret


def test_the_workflow_marks_the_thread_completed(api: Api, deployment: Deployment) -> None:
    # Given a newly created thread
    thread = api.call("POST", "/v1/threads", body=VALID).json()

    # When its workflow has run
    done = wait_for_status(api, thread["id"], "completed")

    # Then it is completed, updated after its creation, with its execution succeeded
    assert done["status"] == "completed"
    assert re.fullmatch(TIMESTAMP, done["updated_at"])
    assert done["updated_at"] >= done["created_at"]
    assert [(s["name"], s["status"]) for s in done["steps"]] == [
        ("business_record", "completed"),
        ("tin_check", "completed"),
        ("address_check", "completed"),
        ("watchlist_screening", "completed"),
        ("decision", "completed"),
    ]
    assert settle(deployment) == [{"name": thread["id"], "status": "SUCCEEDED"}]


def test_a_workflow_that_cannot_start_fails_the_thread(
    api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Step Functions refuses to start executions
    def refuse(self: WorkflowRunner, execution_name: str, plan: Any) -> None:
        raise RuntimeError("StartExecution failed")

    monkeypatch.setattr(WorkflowRunner, "start", refuse)

    # When a thread is created
    reply = api.call("POST", "/v1/threads", body=VALID)

    # Then the caller learns it, and the stored thread is failed rather than running forever
    assert reply.status == 503
    assert reply.json() == error_body(
        "workflow_start_failed", "The thread's workflow could not be started; the thread is marked failed"
    )
    [item] = thread_items(deployment)
    assert item["status"] == {"S": "failed"}
    assert item["gsi_status"] == {"S": "acme#failed"}


def _sized(field: str, size: int) -> dict[str, Any]:
    return {**VALID, field: "x" * size}


BAD_BODIES = [
    pytest.param(None, "{not json", 400, error_body("invalid_json", "Request body is not valid JSON"), id="malformed"),
    pytest.param(None, None, 400, error_body("invalid_parameter", "Request body is required"), id="no-body"),
    pytest.param(None, "null", 400, error_body("invalid_parameter", "Request body is required"), id="null-body"),
    pytest.param(None, "[]", 400, error_body("invalid_json", "Request body must be a JSON object"), id="array-body"),
    pytest.param(
        None,
        json.dumps([VALID]),
        400,
        error_body("invalid_json", "Request body must be a JSON object"),
        id="array-of-a-valid-thread",
    ),
    pytest.param(
        None,
        "[" * 5000 + "]" * 5000,
        400,
        error_body("invalid_json", "Request body nests too deeply"),
        id="nested-5000-deep",
    ),
    pytest.param(
        None,
        '{"type": "cip_orchestrator", "business_id": "biz-42", "metadata": {"\\ud800": "x"}}',
        400,
        error_body("invalid_json", "Request body has invalid Unicode (a lone surrogate escape)"),
        id="lone-surrogate-in-a-metadata-key",
    ),
    pytest.param(
        None,
        '{"type": "cip_orchestrator", "business_id": "biz-42", "user_data": "\\udfff"}',
        400,
        error_body("invalid_json", "Request body has invalid Unicode (a lone surrogate escape)"),
        id="lone-surrogate-in-user-data",
    ),
    pytest.param(
        {**VALID, "status": "completed"},
        None,
        400,
        error_body("invalid_parameter", "status is not a known parameter", "status"),
        id="unknown-field",
    ),
    pytest.param(
        {"business_id": "biz-42"}, None, 400, error_body("invalid_parameter", "type is required", "type"), id="no-type"
    ),
    pytest.param(
        {**VALID, "type": 123},
        None,
        400,
        error_body("invalid_parameter", "type: Input should be a valid string", "type"),
        id="type-int",
    ),
    pytest.param(
        {**VALID, "metadata": "x"},
        None,
        400,
        error_body("invalid_parameter", "metadata: Input should be a valid dictionary", "metadata"),
        id="metadata-string",
    ),
    pytest.param(
        {**VALID, "user_data": 5},
        None,
        400,
        error_body("invalid_parameter", "user_data: Input should be a valid string", "user_data"),
        id="user-data-int",
    ),
    pytest.param(
        {"type": "cip_orchestrator", "business_id": 7},
        None,
        400,
        error_body("invalid_parameter", "business_id: Input should be a valid string", "business_id"),
        id="business-id-int",
    ),
    pytest.param(
        {"type": "cip_orchestrator", "business_id": "biz#42"},
        None,
        400,
        error_body(
            "invalid_parameter", f"business_id: String should match pattern '{IDENTIFIER_PATTERN}'", "business_id"
        ),
        id="business-id-pattern",
    ),
    pytest.param(
        {**VALID, "metadata": {f"k{i}": i for i in range(33)}},
        None,
        400,
        error_body("invalid_parameter", "metadata may have at most 32 keys", "metadata"),
        id="metadata-33-keys",
    ),
    pytest.param(
        {**VALID, "metadata": {"k" * 65: 1}},
        None,
        400,
        error_body("invalid_parameter", "metadata keys must be 1-64 characters", "metadata"),
        id="metadata-key-65",
    ),
    pytest.param(
        {**VALID, "metadata": {"": 1}},
        None,
        400,
        error_body("invalid_parameter", "metadata keys must be 1-64 characters", "metadata"),
        id="metadata-key-empty",
    ),
    pytest.param(
        {**VALID, "metadata": {"notes": "x" * 8200}},
        None,
        400,
        error_body("invalid_parameter", "metadata must be at most 8192 bytes as JSON", "metadata"),
        id="metadata-over-8kb",
    ),
    pytest.param(
        _sized("user_data", 256 * 1024 + 1),
        None,
        400,
        error_body("invalid_parameter", "user_data must be at most 262144 bytes", "user_data"),
        id="user-data-over-256kb",
    ),
    pytest.param(
        {**VALID, "context_type": "business"},
        None,
        400,
        error_body("invalid_parameter", "give either business_id or context_type, not both", "business_id"),
        id="business-id-and-context-type",
    ),
    pytest.param(
        {"type": "cip_orchestrator", "context_type": "business"},
        None,
        400,
        error_body("invalid_parameter", "context_id is required with context_type", "context_id"),
        id="context-type-without-id",
    ),
    pytest.param(
        {"type": "cip_orchestrator", "context_id": "biz-42"},
        None,
        400,
        error_body("invalid_parameter", "context_type is required with context_id", "context_type"),
        id="context-id-without-type",
    ),
    pytest.param(
        {"type": "cip_orchestrator"},
        None,
        400,
        error_body("invalid_parameter", "business_id, or context_type and context_id, is required", "business_id"),
        id="no-context",
    ),
    pytest.param(
        {**VALID, "type": "kyc_wizard"},
        None,
        400,
        error_body("invalid_parameter", "Unknown agent type 'kyc_wizard'; known types: cip_orchestrator", "type"),
        id="unknown-agent-type",
    ),
    pytest.param(
        {"type": "kyc_wizard"},
        None,
        400,
        error_body("invalid_parameter", "Unknown agent type 'kyc_wizard'; known types: cip_orchestrator", "type"),
        id="unknown-type-is-named-before-a-missing-context",
    ),
    pytest.param(
        {"type": "cip_orchestrator", "context_type": "person", "context_id": "p-1"},
        None,
        400,
        error_body("invalid_parameter", "cip_orchestrator works on context types: business", "context_type"),
        id="context-type-not-accepted",
    ),
    pytest.param(
        None,
        json.dumps(_sized("user_data", MAX_BODY_BYTES)),
        413,
        error_body("payload_too_large", "Request body must be at most 1048576 bytes"),
        id="body-over-1mb",
    ),
    pytest.param(
        None,
        # 600 000 characters, 1.2 MB: the limit is in bytes.
        json.dumps({**VALID, "user_data": "é" * 600_000}, ensure_ascii=False),
        413,
        error_body("payload_too_large", "Request body must be at most 1048576 bytes"),
        id="body-over-1mb-multibyte",
    ),
]

UNSTORABLE_NUMBER = (
    "metadata numbers must be finite, with at most 38 significant digits, between 1E-130 and 1E126 in magnitude"
)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


BAD_METADATA = [
    pytest.param('{"big": 1' + "0" * 40 + "}", UNSTORABLE_NUMBER, id="number-41-digits"),
    pytest.param('{"huge": 1e400}', UNSTORABLE_NUMBER, id="number-infinite"),
    pytest.param('{"tiny": 1e-200}', UNSTORABLE_NUMBER, id="number-underflow"),
    pytest.param(json.dumps({"deep": _nested(32)}), "metadata may nest at most 32 levels deep", id="too-deep"),
]


@pytest.mark.parametrize(("body", "raw_body", "status", "expected"), BAD_BODIES)
def test_a_bad_body_is_rejected_and_changes_nothing(
    api: Api, deployment: Deployment, body: Any, raw_body: str | None, status: int, expected: dict[str, Any]
) -> None:
    # Given an existing thread, so that "nothing changed" has something to watch
    api.call("POST", "/v1/threads", body=VALID)

    with changes_nothing(deployment):
        # When a bad body is posted
        reply = api.call("POST", "/v1/threads", body=body, raw_body=raw_body)

    # Then the error names the problem (and the parameter), and nothing was stored or started
    assert reply.status == status
    assert reply.json() == expected


@pytest.mark.parametrize(("metadata", "message"), BAD_METADATA)
def test_metadata_dynamodb_cannot_store_is_a_400_not_a_500(
    api: Api, deployment: Deployment, metadata: str, message: str
) -> None:
    # Given metadata that is valid JSON but beyond what DynamoDB stores
    raw = f'{{"type": "cip_orchestrator", "business_id": "biz-42", "metadata": {metadata}}}'

    with changes_nothing(deployment):
        # When it is posted
        reply = api.call("POST", "/v1/threads", raw_body=raw)

    # Then it is a clear 400 naming metadata
    assert reply.status == 400
    assert reply.json() == error_body("invalid_parameter", message, "metadata")


def test_metadata_at_the_limits_is_accepted(api: Api) -> None:
    # Given metadata exactly at every limit
    metadata: dict[str, Any] = {f"k{i:02d}": i for i in range(31)}
    metadata["k" * 64] = [10**37, 0.5, -1e-130, _nested(29)]

    # When it is posted
    reply = api.call("POST", "/v1/threads", body={**VALID, "metadata": metadata})

    # Then the thread is created and shows it back unchanged
    assert reply.status == 201
    assert api.call("GET", f"/v1/threads/{reply.json()['id']}").json()["metadata"] == metadata


def test_a_key_without_write_scope_cannot_create(api: Api, keys: Keys, deployment: Deployment) -> None:
    # Given a read-only key
    reader = keys.create(scopes=("read",))

    with changes_nothing(deployment):
        # When it posts a valid thread
        reply = api.call("POST", "/v1/threads", body=VALID, key=reader)

    # Then 403, nothing stored
    assert reply.status == 403
    assert reply.json() == error_body("forbidden", "This API key lacks the 'write' scope")


def test_a_project_key_creates_in_its_project(api: Api, keys: Keys, deployment: Deployment) -> None:
    # Given a key restricted to project "alpha"
    alpha = keys.create(project_id="alpha")

    # When it creates a thread without naming a project, or naming its own
    implicit = api.call("POST", "/v1/threads", body=VALID, key=alpha)
    explicit = api.call("POST", "/v1/threads", body={**VALID, "project_id": "alpha"}, key=alpha)

    # Then both threads belong to "alpha"
    assert (implicit.status, explicit.status) == (201, 201)
    assert implicit.json()["project_id"] == explicit.json()["project_id"] == "alpha"
    assert raw_thread_item(deployment, "acme", implicit.json()["id"])["gsi_project"] == {"S": "acme#alpha"}


def test_a_project_key_cannot_create_in_another_project(api: Api, keys: Keys, deployment: Deployment) -> None:
    # Given a key restricted to project "alpha"
    alpha = keys.create(project_id="alpha")

    with changes_nothing(deployment):
        # When it creates a thread in project "beta"
        reply = api.call("POST", "/v1/threads", body={**VALID, "project_id": "beta"}, key=alpha)

    # Then 403, nothing stored
    assert reply.status == 403
    assert reply.json() == error_body("forbidden", "This API key is restricted to project alpha")


def test_the_events_file_with_a_project_restricted_authorizer_context(deployment: Deployment) -> None:
    # Given the create event of a key restricted to project "alpha"
    event = route_event("create_thread.json", project_id="alpha")

    # When the function handles it
    result = invoke("create_thread", event)

    # Then the thread is created in "alpha"
    assert result["statusCode"] == 201
    assert json.loads(result["body"])["project_id"] == "alpha"


# ----- the thread's context must exist ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        pytest.param({"type": "cip_orchestrator", "business_id": "biz-404"}, "business_id", id="business-id"),
        pytest.param(
            {"type": "cip_orchestrator", "context_type": "business", "context_id": "biz-404"},
            "context_id",
            id="context-type-and-id",
        ),
    ],
)
def test_a_thread_on_a_business_that_does_not_exist_is_404_and_creates_nothing(
    api: Api, deployment: Deployment, body: dict[str, Any], parameter: str
) -> None:
    # Given an existing thread, and no business biz-404
    api.call("POST", "/v1/threads", body=VALID)

    with changes_nothing(deployment):
        # When a thread is created on biz-404
        reply = api.call("POST", "/v1/threads", body=body)

    # Then 404 naming the parameter that named it, as Middesk answers; no thread, no execution
    assert reply.status == 404
    assert reply.json() == error_body("not_found", "No business with id biz-404", parameter)


def test_a_thread_on_another_orgs_business_is_404(api: Api, keys: Keys, seed: Seed, deployment: Deployment) -> None:
    # Given a business that only org "globex" has
    seed.business("biz-globex", org_id="globex")

    with changes_nothing(deployment):
        # When "acme" creates a thread on it
        reply = api.call("POST", "/v1/threads", body={**VALID, "business_id": "biz-globex"})

    # Then 404, exactly as if it did not exist; "globex" itself can
    assert (reply.status, reply.json()) == (
        404,
        error_body("not_found", "No business with id biz-globex", "business_id"),
    )
    theirs = api.call("POST", "/v1/threads", body={**VALID, "business_id": "biz-globex"}, key=keys.create("globex"))
    assert theirs.status == 201


def test_a_business_put_through_the_api_is_usable_at_once_and_not_after_its_deletion(
    api: Api, deployment: Deployment
) -> None:
    # Given a business stored through the API
    put_business(api, "biz-new")

    # When a thread is created on it, then the business is deleted and another thread is asked for
    created = api.call("POST", "/v1/threads", body={**VALID, "business_id": "biz-new"})
    assert api.call("DELETE", "/v1/contexts/business/biz-new").status == 200
    with changes_nothing(deployment):
        refused = api.call("POST", "/v1/threads", body={**VALID, "business_id": "biz-new"})

    # Then the first is created, the second is 404, and the first thread is still there
    assert created.status == 201
    assert (refused.status, refused.json()) == (
        404,
        error_body("not_found", "No business with id biz-new", "business_id"),
    )
    assert api.call("GET", f"/v1/threads/{created.json()['id']}").status == 200


def test_a_bad_request_is_400_before_the_business_is_looked_up(api: Api, deployment: Deployment) -> None:
    with changes_nothing(deployment):
        # When a request is both invalid and on a business that does not exist
        reply = api.call("POST", "/v1/threads", body={"type": "kyc_wizard", "business_id": "biz-404"})

    # Then the invalid parameter is what the caller hears
    assert reply.status == 400
    assert reply.json()["errors"][0]["parameter"] == "type"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/merge-patch+json", ""],
)
def test_a_body_that_is_not_declared_json_is_415_and_changes_nothing(
    api: Api, deployment: Deployment, content_type: str
) -> None:
    with changes_nothing(deployment):
        # When a valid thread is posted as another media type (or none)
        reply = api.call("POST", "/v1/threads", body=VALID, headers={"Content-Type": content_type})

    # Then 415 names what is accepted, and nothing was stored or started
    assert reply.status == 415
    assert reply.json() == error_body(
        "unsupported_media_type", "Request bodies are JSON: send Content-Type: application/json"
    )


def test_json_with_a_charset_or_in_capitals_is_accepted(api: Api) -> None:
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        reply = api.call("POST", "/v1/threads", body=VALID, headers={"Content-Type": content_type})
        assert reply.status == 201, (content_type, reply.body)
