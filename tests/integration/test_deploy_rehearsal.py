"""Deploy rehearsal (docs/deploy.md): the built template created as a CloudFormation stack on
moto completes, its outputs resolve, and its tables, state machine, queues, event sources and
API are what the code expects (tools/threadline_tools/rehearsal.py)."""

from __future__ import annotations

from threadline_tools.rehearsal import EXPECTED_TABLES, Rehearsal, packaged_template, rehearse, translate
from threadline_tools.template import template

# What moto's CloudFormation creates nothing for, so a deploy rehearsal does not rehearse it
# (docs/deploy.md keeps the same list). A new resource of another unimplemented type, or moto
# implementing one of these, changes it: update both. (AWS::Lambda::Alias, which moto lacks, is
# created by the rehearsal's own model, so it is rehearsed and not listed.)
KNOWN_SKIPPED_TYPES = [
    "AWS::ApiGateway::ApiKey",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::UsagePlanKey",
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
]


def _assert_deployed(rehearsal: Rehearsal) -> None:
    # The stack completes, with nothing wrong found in it
    assert rehearsal.status == "CREATE_COMPLETE", rehearsal.report()
    assert rehearsal.problems == [], rehearsal.report()

    # Every output resolves, but those of resources the emulation skips (listed, not hidden)
    assert set(rehearsal.outputs) | set(rehearsal.unrehearsed_outputs) == set(template()["Outputs"])
    assert all(rehearsal.outputs.values())

    # The tables the functions are given carry the keys, indexes, streams and TTL the code uses
    assert rehearsal.tables == EXPECTED_TABLES

    # What is not rehearsed is exactly what is known not to be
    assert rehearsal.skipped_types == KNOWN_SKIPPED_TYPES, rehearsal.report()

    # Every function is published with its alias (AutoPublishAlias), which the checks hold
    # event sources, tasks, rules and the API to
    kinds = list(rehearsal.created.values())
    functions = kinds.count("AWS::Lambda::Function")
    assert kinds.count("AWS::Lambda::Version") == kinds.count("AWS::Lambda::Alias") == functions > 0


def test_the_template_deploys_with_its_defaults() -> None:
    # When the built template is created as a stack with its parameters' defaults
    rehearsal = rehearse()

    # Then it completes and is as the code expects
    _assert_deployed(rehearsal)

    # And the workflow's human waits are task-token waits (a standard workflow)
    (definition,) = rehearsal.definitions.values()
    assert "lambda:invoke.waitForTaskToken" in definition

    # And the stack keeps room under CloudFormation's 500 resources (a function adds about eight)
    assert len(rehearsal.created) + len(rehearsal.skipped) <= 450


def test_the_template_deploys_as_an_express_workflow_without_access_logs() -> None:
    # When the stack is created with an express workflow and no access logs
    rehearsal = rehearse({"WorkflowType": "EXPRESS", "EnableAccessLogs": "false"})

    # Then it completes as well, without the access log group
    _assert_deployed(rehearsal)
    assert "ApiAccessLogs" not in rehearsal.created

    # And no state waits for a task token (express workflows have none)
    (definition,) = rehearsal.definitions.values()
    assert "waitForTaskToken" not in definition


def test_the_rehearsal_finds_what_would_break_the_code() -> None:
    # Given a built template whose threads table projects an index the code reads keys-only from
    # as ALL, whose agent function is given a state machine ARN the stack does not make, one of
    # whose alarms (a type moto skips) watches a queue that does not exist, whose indexer's event
    # source feeds the function rather than its alias, and whose authorizer is an alias the stack
    # does not make
    built = translate(packaged_template(), {})
    resources = built["Resources"]
    index = resources["ThreadsTableV2"]["Properties"]["GlobalSecondaryIndexes"][0]
    index["Projection"] = {"ProjectionType": "ALL"}
    variables = resources["AgentFunction"]["Properties"]["Environment"]["Variables"]
    variables["STATE_MACHINE_ARN"]["Fn::Sub"] = variables["STATE_MACHINE_ARN"]["Fn::Sub"].replace(
        "-agent-workflow", "-workflow"
    )
    alarm = resources["IndexFailuresAlarm"]["Properties"]
    alarm["Dimensions"][0]["Value"] = {"Fn::GetAtt": ["IndexFailureQueue", "QueueName"]}
    resources["IndexThreadsFunctionThreadChanged"]["Properties"]["FunctionName"] = {"Ref": "IndexThreadsFunction"}
    authorizer = resources["ThreadlineApi"]["Properties"]["Body"]["securityDefinitions"]["ApiKeyAuthorizer"]
    authorizer["x-amazon-apigateway-authorizer"]["authorizerUri"]["Fn::Sub"][1]["__FunctionArn__"] = {
        "Fn::Sub": "${AuthorizerFunction.Arn}:stale"
    }

    # When it is rehearsed
    rehearsal = rehearse(built=built)

    # Then the stack completes, yet all five are found
    assert rehearsal.status == "CREATE_COMPLETE"
    problems = rehearsal.problems
    assert any(problem.startswith("THREADS_TABLE ") for problem in problems), problems
    assert any(problem.startswith("STATE_MACHINE_ARN is ") for problem in problems), problems
    assert (
        "IndexFailuresAlarm (AWS::CloudWatch::Alarm) refers to IndexFailureQueue, not in the built template" in problems
    )
    assert any(
        problem.startswith("an event source feeds ") and ":threadline-rehearsal-IndexThreadsFunction-" in problem
        for problem in problems
    ), problems
    assert any(
        problem.startswith("ThreadlineApi: the authorizer ApiKeyAuthorizer invokes ") and ":stale/" in problem
        for problem in problems
    ), problems
    assert len(problems) == 5, problems
