"""``threadline keys`` against moto: keys are shown once, stored hashed, listed
without secrets, revoked for good; bad input changes nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import boto3
import pytest
from threadline import clients
from threadline.auth.api_keys import KEY_PATTERN, hash_key
from threadline.store.api_keys import ApiKeyStore
from threadline_tools import cli
from threadline_tools.provision import Deployment

from tests.conftest import Api, put_business

KEY_IN_TEXT = re.compile(r"tl_[a-z0-9]{12}_[A-Za-z0-9_-]{43}")


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Runs the CLI in-process, as `threadline ...` would, returning its exit code and output."""

    def invoke(*argv: str) -> Result:
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def stored_keys(deployment: Deployment) -> list[dict]:
    return clients.dynamodb().scan(TableName=deployment.keys_table)["Items"]


def test_create_prints_a_working_key_once_and_stores_only_its_hash(run, deployment: Deployment, api: Api) -> None:
    # Given a deployment with one (fixture) key
    before = len(stored_keys(deployment))

    # When an operator creates a key for acme
    result = run("keys", "create", "--table", deployment.keys_table, "--org", "acme", "--name", "ci")

    # Then the key is printed once, with its id
    assert result.code == 0, result.err
    printed = KEY_IN_TEXT.findall(result.out)
    assert len(printed) == 1
    key = printed[0]
    key_id = key.split("_")[1]
    assert key_id in result.out.replace(key, "")
    # And only its hash is stored, with the org, scopes and name
    items = stored_keys(deployment)
    assert len(items) == before + 1
    assert key not in json.dumps(items)
    record = ApiKeyStore(clients.dynamodb(), deployment.keys_table).get(hash_key(key))
    assert record is not None
    assert (record.key_id, record.org_id, record.scopes, record.name, record.project_id) == (
        key_id,
        "acme",
        ("read", "write"),
        "ci",
        None,
    )
    # And the key works through the API
    put_business(api, "biz_1")
    assert api.call("POST", "/v1/threads", {"type": "cip_orchestrator", "business_id": "biz_1"}, key=key).status == 201


def test_create_with_project_and_read_scope(run, deployment: Deployment, api: Api) -> None:
    result = run(
        "keys", "create", "--table", deployment.keys_table, "--org", "acme", "--project", "p1", "--scopes", "read"
    )

    assert result.code == 0, result.err
    key = KEY_IN_TEXT.findall(result.out)[0]
    record = ApiKeyStore(clients.dynamodb(), deployment.keys_table).get(hash_key(key))
    assert record is not None and record.project_id == "p1" and record.scopes == ("read",)
    # A read-only key lists but cannot create
    assert api.call("GET", "/v1/threads", key=key).status == 200
    assert api.call("POST", "/v1/threads", {"type": "cip_orchestrator", "business_id": "b"}, key=key).status == 403


def test_create_json_output(run, deployment: Deployment) -> None:
    result = run("keys", "create", "--table", deployment.keys_table, "--org", "acme", "--json")

    assert result.code == 0, result.err
    body = json.loads(result.out)
    assert KEY_PATTERN.match(body["key"])
    assert body["prefix"] == f"tl_{body['id']}"
    assert (body["org_id"], body["scopes"], body["revoked_at"]) == ("acme", ["read", "write"], None)
    assert "key_hash" not in body


def test_list_shows_keys_without_secrets(run, deployment: Deployment) -> None:
    # Given two keys of two orgs
    acme = run("keys", "create", "--table", deployment.keys_table, "--org", "acme", "--name", "acme ci", "--json")
    other = run("keys", "create", "--table", deployment.keys_table, "--org", "globex", "--json")
    acme_key, other_key = json.loads(acme.out), json.loads(other.out)

    # When the keys are listed
    everything = run("keys", "list", "--table", deployment.keys_table)
    only_acme = run("keys", "list", "--table", deployment.keys_table, "--org", "acme")

    # Then each row shows id, prefix, org, project, scopes, name, usage plan, created_at, revoked_at
    assert everything.code == 0, everything.err
    header = everything.out.splitlines()[0].split()
    assert header == ["ID", "PREFIX", "ORG", "PROJECT", "SCOPES", "NAME", "USAGE_PLAN", "CREATED_AT", "REVOKED_AT"]
    assert acme_key["id"] in everything.out and other_key["id"] in everything.out
    assert "acme ci" in everything.out and acme_key["created_at"] in everything.out
    # And never a key or a hash
    for text in (everything.out, only_acme.out):
        assert not KEY_IN_TEXT.search(text)
        assert hash_key(acme_key["key"]) not in text and hash_key(other_key["key"]) not in text
    # And --org narrows the list
    assert acme_key["id"] in only_acme.out and other_key["id"] not in only_acme.out


def test_list_json_and_empty(run, deployment: Deployment) -> None:
    assert json.loads(run("keys", "list", "--table", deployment.keys_table, "--org", "nobody", "--json").out) == []
    empty = run("keys", "list", "--table", deployment.keys_table, "--org", "nobody")
    assert empty.code == 0 and "No API keys" in empty.out


def test_revoke_marks_the_key_revoked_and_the_authorizer_rejects_it(run, deployment: Deployment, api: Api) -> None:
    # Given a working key
    created = json.loads(run("keys", "create", "--table", deployment.keys_table, "--org", "acme", "--json").out)
    assert api.call("GET", "/v1/threads", key=created["key"]).status == 200

    # When it is revoked by id
    result = run("keys", "revoke", created["id"], "--table", deployment.keys_table)

    # Then it is marked revoked, listed as such, and the API answers 401
    assert result.code == 0, result.err
    assert "Revoked" in result.out
    listed = json.loads(run("keys", "list", "--table", deployment.keys_table, "--org", "acme", "--json").out)
    revoked = next(k for k in listed if k["id"] == created["id"])
    assert revoked["revoked_at"] is not None
    assert all(k["revoked_at"] is None for k in listed if k["id"] != created["id"])
    reply = api.call("GET", "/v1/threads", key=created["key"])
    assert reply.status == 401
    assert reply.json()["code"] == "unauthorized"
    # And revoking again (by its tl_ prefix) keeps the first revocation time
    again = run("keys", "revoke", created["prefix"], "--table", deployment.keys_table)
    assert again.code == 0 and revoked["revoked_at"] in again.out


def test_revoke_unknown_key_fails(run, deployment: Deployment) -> None:
    result = run("keys", "revoke", "abcdefabcdef", "--table", deployment.keys_table)

    assert result.code == 1
    assert "no API key with id abcdefabcdef" in result.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "create", "--org", "bad org"], "argument --org: invalid org id 'bad org'"),
        (["keys", "create", "--org", "-acme"], "argument --org"),
        (["keys", "create", "--org", "acme", "--scopes", "read,admin"], "invalid scopes (admin); choose from: read"),
        (["keys", "create", "--org", "acme", "--scopes", ","], "invalid scopes"),
        (["keys", "create", "--org", "acme", "--project", "p#1"], "argument --project: invalid project id 'p#1'"),
        (["keys", "create"], "the following arguments are required: --org"),
        (["keys", "revoke", "not-an-id"], "argument KEY_ID: invalid key id 'not-an-id'"),
        (["keys", "list", "--org", "acme#x"], "invalid org id"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(run, deployment: Deployment, argv: list[str], message: str) -> None:
    before = stored_keys(deployment)

    result = run(*argv, "--table", deployment.keys_table)

    assert result.code == 2
    assert message in result.err
    assert stored_keys(deployment) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "create", "--org", "acme"], "one of the arguments --local --stack --table is required"),
        (["keys", "list", "--table", "t", "--stack", "s"], "not allowed with argument"),
        (["keys", "list", "--local", "--table", "t"], "not allowed with argument"),
        (["keys", "list", "--stack", "s", "--endpoint-url", "http://x"], "--endpoint-url applies only to --table"),
        (["keys", "list", "--local", "--region", "eu-west-1"], "do not apply to --local"),
    ],
)
def test_target_must_be_exactly_one(run, deployment: Deployment, argv: list[str], message: str) -> None:
    before = stored_keys(deployment)

    result = run(*argv)

    assert result.code == 2
    assert message in result.err
    assert stored_keys(deployment) == before


def test_local_without_a_running_server(run, deployment: Deployment, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("THREADLINE_LOCAL_FILE", str(tmp_path / "local.json"))

    result = run("keys", "create", "--local", "--org", "acme")

    assert result.code == 2
    assert "no local server is running" in result.err and "threadline dev" in result.err


def test_stack_target_reads_the_keys_table_output(run, deployment: Deployment) -> None:
    # Given a stack whose KeysTableName output names the keys table
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"KeysTableName": {"Value": deployment.keys_table}},
    }
    boto3.client("cloudformation").create_stack(StackName="threadline-test", TemplateBody=json.dumps(template))

    # When a key is created against the stack
    result = run("keys", "create", "--stack", "threadline-test", "--region", "us-east-1", "--org", "acme", "--json")

    # Then it lands in that table
    assert result.code == 0, result.err
    key = json.loads(result.out)["key"]
    assert ApiKeyStore(clients.dynamodb(), deployment.keys_table).get(hash_key(key)) is not None


def test_stack_target_errors(run, deployment: Deployment) -> None:
    missing = run("keys", "list", "--stack", "no-such-stack")
    assert missing.code == 2 and "cannot read stack no-such-stack" in missing.err

    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"Other": {"Value": "x"}}}
    boto3.client("cloudformation").create_stack(StackName="not-threadline", TemplateBody=json.dumps(template))
    no_output = run("keys", "list", "--stack", "not-threadline")
    assert no_output.code == 2 and "has no KeysTableName output" in no_output.err


def test_unknown_table_fails_clearly(run, deployment: Deployment) -> None:
    result = run("keys", "list", "--table", "no-such-table")

    assert result.code == 1
    assert "ResourceNotFoundException" in result.err
