"""``threadline publish --stack``: after a deploy that changed only parameters, every function's
alias ``live`` serves its new configuration (docs/deploy.md, "Versions and parameters")."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from threadline_tools import cli

STACK = "threadline-publish"


def _bundle() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("app.py", "def lambda_handler(event, context):\n    return {}\n")
    return buffer.getvalue()


@pytest.fixture
def stack() -> Iterator[list[str]]:
    """A stack of two functions, each with its alias `live` on version 1 (as a deploy leaves them)."""
    with mock_aws():
        iam = boto3.client("iam")
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}))
        boto3.client("s3").create_bucket(Bucket="code")
        boto3.client("s3").put_object(Bucket="code", Key="app.zip", Body=_bundle())
        function = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "app.lambda_handler",
                "Role": role["Role"]["Arn"],
                "Code": {"S3Bucket": "code", "S3Key": "app.zip"},
                "Environment": {"Variables": {"RETENTION_DAYS": "30"}},
            },
        }
        body = {"Resources": {"First": function, "Second": function}}
        boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(body))
        resources = boto3.client("cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        names = sorted(r["PhysicalResourceId"] for r in resources)
        lambda_client = boto3.client("lambda")
        for name in names:
            version = lambda_client.publish_version(FunctionName=name)["Version"]
            lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
        yield names


def test_publish_moves_every_alias_to_the_configuration_a_parameter_only_deploy_left(
    stack: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deploy that changed a parameter: each function's configuration, not its alias's version
    lambda_client = boto3.client("lambda")
    for name in stack:
        lambda_client.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"RETENTION_DAYS": "7"}}
        )
        assert _served(name) == "30"

    # When the stack's functions are published
    assert cli.main(["publish", "--stack", STACK]) == 0

    # Then every alias serves the new configuration, and the command says what moved
    assert [_served(name) for name in stack] == ["7", "7"]
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == stack
    assert all(line.endswith("live: 1 -> 2") for line in printed)


def test_publish_names_a_stack_that_does_not_exist(stack: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["publish", "--stack", "no-such-stack"]) == 1
    assert "no-such-stack" in capsys.readouterr().err


def _served(function: str) -> str:
    """RETENTION_DAYS as the function's alias `live` runs it."""
    configuration = boto3.client("lambda").get_function_configuration(FunctionName=function, Qualifier="live")
    return str(configuration["Environment"]["Variables"]["RETENTION_DAYS"])
