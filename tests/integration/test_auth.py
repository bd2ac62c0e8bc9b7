"""Authentication: the REQUEST authorizer, and 401s as API Gateway answers them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from threadline.auth.api_keys import generate_key
from threadline_tools.gateway import gateway_response
from threadline_tools.provision import Deployment
from threadline_tools.template import resources

from tests.conftest import Api, Keys, changes_nothing, error_body, invoke, key_id, load_event, route_event

UNAUTHORIZED_BODY = {
    "success": False,
    "code": "unauthorized",
    "message": "Missing or invalid API key",
    "errors": [{"code": "unauthorized", "message": "Missing or invalid API key", "parameter": None}],
}


def authorizer_event(authorization: str | None) -> dict[str, Any]:
    event = load_event("authorizer.json")
    event["headers"].pop("Authorization")
    event["multiValueHeaders"].pop("Authorization")
    if authorization is not None:
        event["headers"]["Authorization"] = authorization
        event["multiValueHeaders"]["Authorization"] = [authorization]
    return event


def test_the_events_file_with_a_valid_key_is_allowed_with_its_tenant(keys: Keys) -> None:
    # Given a key of org "acme" restricted to project "alpha"
    key = keys.create("acme", project_id="alpha", scopes=("read",))

    # When the authorizer event carries it
    policy = invoke("authorizer", authorizer_event(f"Bearer {key}"))

    # Then the whole API is allowed (the policy is cached per key for every route), with the tenant as context
    assert policy == {
        "principalId": key_id(key),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/api/*",
                }
            ],
        },
        "context": {
            "org_id": "acme",
            "project_id": "alpha",
            "scopes": "read",
            "key_id": key_id(key),
            "key_name": "test key of acme",
        },
    }


def test_an_unrestricted_key_has_an_empty_project(keys: Keys) -> None:
    # Given a key of no particular project
    key = keys.create("acme")

    # When it is authorized, with the header name in lower case as HTTP/2 clients send it
    event = authorizer_event(None)
    event["headers"]["authorization"] = f"bearer {key}"
    policy = invoke("authorizer", event)

    # Then its context has an empty project and both scopes
    assert (policy["context"]["project_id"], policy["context"]["scopes"]) == ("", "read,write")


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="no-key"),
        pytest.param("Bearer not-a-key", id="malformed"),
        pytest.param("Basic dXNlcjpwYXNz", id="other-scheme"),
        pytest.param("Token {key}", id="other-scheme-real-key"),
        pytest.param("Bearer {key}x", id="real-key-plus-a-character"),
        pytest.param("Bearer {unknown}", id="unknown-well-formed"),
        pytest.param("Bearer {revoked}", id="revoked"),
    ],
)
def test_a_bad_key_is_unauthorized(keys: Keys, authorization: str | None) -> None:
    # Given a valid key, a revoked one and a well-formed one never issued
    key, revoked = keys.create(), keys.create()
    keys.revoke(revoked)
    header = None
    if authorization is not None:
        header = authorization.format(key=key, revoked=revoked, unknown=generate_key()[1])

    # When the authorizer is asked
    # Then it raises exactly "Unauthorized", which API Gateway turns into its 401
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        invoke("authorizer", authorizer_event(header))


def test_the_gateway_401_is_the_templates_json_for_both_dialects() -> None:
    # Given the template's customised UNAUTHORIZED gateway response
    # When it is rendered
    reply = gateway_response("UNAUTHORIZED")

    # Then it is JSON readable in both dialects
    assert (reply.status, reply.json()) == (401, UNAUTHORIZED_BODY)
    api = next(iter(resources("AWS::Serverless::Api").values()))["Properties"]
    assert json.loads(api["GatewayResponses"]["ACCESS_DENIED"]["ResponseTemplates"]["application/json"]) == (
        UNAUTHORIZED_BODY
    )


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/threads"), ("POST", "/v1/threads"), ("GET", "/thread")])
@pytest.mark.parametrize("credential", ["missing", "malformed", "unknown", "revoked"])
def test_every_route_needs_a_valid_key(
    api: Api, keys: Keys, deployment: Deployment, method: str, path: str, credential: str
) -> None:
    # Given no key, or one that is malformed, unknown or revoked
    revoked = keys.create()
    keys.revoke(revoked)
    key = {"missing": "", "malformed": "tl_short", "unknown": generate_key()[1], "revoked": revoked}[credential]

    with changes_nothing(deployment):
        # When a route is called with it
        reply = api.call(method, path, key=key, body={"type": "cip_orchestrator", "business_id": "b"})

    # Then API Gateway answers 401 with its JSON body, and nothing happened
    assert (reply.status, reply.json()) == (401, UNAUTHORIZED_BODY)


def test_a_revoked_key_stops_working(api: Api, keys: Keys) -> None:
    # Given a key that works
    key = keys.create()
    assert api.call("GET", "/v1/threads", key=key).status == 200

    # When it is revoked
    keys.revoke(key)

    # Then it is refused
    assert api.call("GET", "/v1/threads", key=key).status == 401


@pytest.mark.parametrize(
    ("function", "event_file", "expected"),
    [
        ("list_threads", "list_threads.json", error_body("unauthorized", "Missing or invalid API key")),
        (
            "agentuity_list_threads",
            "agentuity_list_threads.json",
            {"success": False, "message": "Missing or invalid API key", "code": "unauthorized"},
        ),
    ],
)
def test_a_route_invoked_without_authorizer_context_is_401(
    deployment: Deployment, function: str, event_file: str, expected: dict[str, Any]
) -> None:
    # Given a route event that did not pass the authorizer (a deployment mistake)
    event = route_event(event_file)
    event["requestContext"].pop("authorizer")

    # When the function handles it
    result = invoke(function, event)

    # Then it refuses, 401, rather than guessing a tenant
    assert result["statusCode"] == 401
    assert json.loads(result["body"]) == expected
