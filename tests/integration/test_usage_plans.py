"""Per-key throttling and quotas: a key's own API Gateway API key on a usage plan, made by
``threadline keys``, named by the authorizer as the request's ``usageIdentifierKey``; keys
without one are named by the stack's shared API key (docs/operations.md, "Per-key limits").
API Gateway (on moto) holds the plans and keys; API Gateway's own metering is AWS's."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from threadline import clients
from threadline.auth.api_keys import hash_key
from threadline.settings import settings
from threadline.store.api_keys import ApiKeyStore
from threadline_tools import cli
from threadline_tools.provision import Deployment

from tests.conftest import Keys, invoke, load_event

STACK = "threadline-plans"


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Stack:
    """A stack's API with its stage, its per-key plan and another plan, and the outputs the CLI reads."""

    api_id: str
    per_key_plan: str
    gold_plan: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def invoke_cli(*argv: str) -> Result:
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke_cli


@pytest.fixture
def stack(deployment: Deployment) -> Stack:
    apigateway = boto3.client("apigateway")
    api_id = apigateway.create_rest_api(name="threadline")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api_id, stageName="api")
    stages = [{"apiId": api_id, "stage": "api"}]
    per_key = apigateway.create_usage_plan(
        name="per-key",
        apiStages=stages,
        throttle={"rateLimit": 25, "burstLimit": 50},
        quota={"limit": 1000, "period": "DAY"},
    )["id"]
    gold = apigateway.create_usage_plan(name="gold", apiStages=stages, throttle={"rateLimit": 500, "burstLimit": 1000})[
        "id"
    ]
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"KeysTableName": {"Value": deployment.keys_table}, "KeyUsagePlanId": {"Value": per_key}},
    }
    boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return Stack(api_id, per_key, gold)


def plan_keys(plan_id: str) -> dict[str, str]:
    """The API keys on a usage plan: id → name."""
    items = boto3.client("apigateway").get_usage_plan_keys(usagePlanId=plan_id)["items"]
    return {item["id"]: item["name"] for item in items}


def api_key_value(key_id: str) -> str:
    value: str = boto3.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]
    return value


def authorized(key: str) -> dict[str, Any]:
    """What the authorizer function answers for a request with ``key`` (events/authorizer.json)."""
    event = load_event("authorizer.json")
    event["headers"]["Authorization"] = f"Bearer {key}"
    return invoke("authorizer", event)


def record_of(deployment: Deployment, key: str) -> Any:
    return ApiKeyStore(clients.dynamodb(), deployment.keys_table).get(hash_key(key))


def test_a_key_created_on_a_stack_gets_its_own_api_key_on_the_per_key_plan(
    run: Callable[..., Result], deployment: Deployment, stack: Stack
) -> None:
    # When a key is created against the stack
    result = run("keys", "create", "--stack", STACK, "--org", "acme", "--json")

    # Then an API Gateway API key named after it is on the stack's per-key plan, and its record
    # holds that key's id, value and plan
    assert result.code == 0, result.err
    created = json.loads(result.out)
    record = record_of(deployment, created["key"])
    assert created["usage_plan_id"] == stack.per_key_plan == record.usage_plan_id
    assert plan_keys(stack.per_key_plan) == {record.usage_key_id: f"threadline-{created['id']}"}
    assert record.usage_key == api_key_value(record.usage_key_id)

    # And the authorizer names that API key as the request's usage identifier
    policy = authorized(created["key"])
    assert policy["usageIdentifierKey"] == record.usage_key
    assert policy["principalId"] == created["id"]


def test_a_key_without_a_plan_of_its_own_is_metered_by_the_shared_api_key(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a key without an API key of its own, and the stack's shared usage identifier
    key = keys.create()
    monkeypatch.setenv("SHARED_USAGE_KEY", "threadline0123456789abcdef0123456789abcdef")
    settings.cache_clear()  # (the deployment's teardown clears it again)

    # Then the authorizer names the shared API key
    assert authorized(key)["usageIdentifierKey"] == "threadline0123456789abcdef0123456789abcdef"


def test_without_usage_plans_the_authorizer_names_no_usage_identifier(keys: Keys) -> None:
    # Given no shared usage identifier (the local server, which has no usage plans)
    # Then a key without one of its own is allowed with none
    policy = authorized(keys.create())
    assert "usageIdentifierKey" not in policy
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_shared_plan_and_explicit_plans_at_creation(
    run: Callable[..., Result], deployment: Deployment, stack: Stack
) -> None:
    # When keys are created on the shared plan, and on another plan of the API
    shared = json.loads(run("keys", "create", "--stack", STACK, "--org", "acme", "--shared-plan", "--json").out)
    gold = json.loads(
        run("keys", "create", "--stack", STACK, "--org", "acme", "--usage-plan", stack.gold_plan, "--json").out
    )

    # Then the first has no API key of its own, the second is on that plan
    assert (shared["usage_plan_id"], record_of(deployment, shared["key"]).usage_key_id) == (None, None)
    assert gold["usage_plan_id"] == stack.gold_plan
    assert list(plan_keys(stack.gold_plan).values()) == [f"threadline-{gold['id']}"]
    assert plan_keys(stack.per_key_plan) == {}

    # And the key list shows each key's plan
    listing = run("keys", "list", "--stack", STACK).out
    assert "USAGE_PLAN" in listing
    assert f"{stack.gold_plan}" in listing and "shared" in listing


def test_moving_keys_between_plans(run: Callable[..., Result], deployment: Deployment, stack: Stack) -> None:
    # Given a key on the shared plan and one on the per-key plan
    shared = json.loads(run("keys", "create", "--stack", STACK, "--org", "acme", "--shared-plan", "--json").out)
    own = json.loads(run("keys", "create", "--stack", STACK, "--org", "acme", "--json").out)
    own_usage_key = record_of(deployment, own["key"]).usage_key_id

    # When the first gets the stack's per-key plan, and the second moves to another plan
    first = run("keys", "plan", shared["id"], "--stack", STACK)
    second = run("keys", "plan", own["id"], "--stack", STACK, "--usage-plan", stack.gold_plan)

    # Then the first has an API key of its own on the per-key plan, which the authorizer names;
    # the second's API key (the same one) left its plan for the other
    assert (first.code, second.code) == (0, 0), first.err + second.err
    moved = record_of(deployment, shared["key"])
    assert plan_keys(stack.per_key_plan) == {moved.usage_key_id: f"threadline-{shared['id']}"}
    assert authorized(shared["key"])["usageIdentifierKey"] == api_key_value(moved.usage_key_id)
    assert plan_keys(stack.gold_plan) == {own_usage_key: f"threadline-{own['id']}"}
    assert record_of(deployment, own["key"]).usage_plan_id == stack.gold_plan


def test_revoking_a_key_deletes_its_api_key(run: Callable[..., Result], deployment: Deployment, stack: Stack) -> None:
    # Given a key with its own API key
    created = json.loads(run("keys", "create", "--stack", STACK, "--org", "acme", "--json").out)
    usage_key_id = record_of(deployment, created["key"]).usage_key_id

    # When it is revoked
    result = run("keys", "revoke", created["id"], "--stack", STACK)

    # Then its API key is gone from API Gateway (a request the authorizer cache still admits is
    # refused, on no plan), and the key no longer authorizes
    assert result.code == 0, result.err
    assert plan_keys(stack.per_key_plan) == {}
    assert usage_key_id not in [k["id"] for k in boto3.client("apigateway").get_api_keys()["items"]]
    assert "Deleted its API Gateway API key" in result.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("keys", "create", "--local", "--org", "acme", "--usage-plan", "abc123"),
            "the local server has no usage plans",
        ),
        (("keys", "plan", "abcdefghijkl", "--table", "t"), "give --usage-plan ID"),
        (("keys", "plan", "abcdefghijkl", "--table", "t", "--shared-plan"), "unrecognized arguments: --shared-plan"),
    ],
)
def test_plan_arguments_that_cannot_apply_exit_2(
    run: Callable[..., Result], deployment: Deployment, argv: tuple[str, ...], message: str
) -> None:
    result = run(*argv)
    assert result.code == 2
    assert message in result.err


def test_a_plan_that_refuses_the_key_leaves_no_api_key_behind(
    run: Callable[..., Result], deployment: Deployment, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given API Gateway refuses to put keys on the plan (as it answers for a plan id it does not know)
    def refuse(**_: Any) -> None:
        error = {"Error": {"Code": "NotFoundException", "Message": "Invalid Usage Plan ID specified"}}
        raise ClientError(error, "CreateUsagePlanKey")  # type: ignore[arg-type]

    session = boto3.session.Session()  # the CLI's clients come from boto3's default session
    session.events.register("before-call.api-gateway.CreateUsagePlanKey", refuse)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)

    # When a key is created on that plan
    before = boto3.client("apigateway").get_api_keys()["items"]
    result = run("keys", "create", "--stack", STACK, "--org", "acme", "--usage-plan", stack.gold_plan)

    # Then the command fails, and neither an API key nor a Threadline key is left
    assert (result.code, result.err) == (1, "threadline: error: NotFoundException: Invalid Usage Plan ID specified\n")
    assert boto3.client("apigateway").get_api_keys()["items"] == before
    assert clients.dynamodb().scan(TableName=deployment.keys_table)["Items"] == []
