"""statemachine/agent_workflow.asl.json: its grammar (as Step Functions' own parser, moto's,
reads it), its substitutions, and the rules the docs promise of it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from threadline.store.thread_status import ACTIVE_RUN_CONDITION
from threadline_tools.provision import ROLE_ARN
from threadline_tools.template import ROOT, invoked_function, resources

from tests.conftest import MOTO_CONFIG

MACHINE = resources("AWS::Serverless::StateMachine")["AgentWorkflow"]["Properties"]
TEXT = (ROOT / MACHINE["DefinitionUri"]).read_text()
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:threadline-AgentFunction:live"
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def substituted(text: str = TEXT) -> str:
    """The definition with every substitution as the deployed stack fills it."""
    for variable, value in MACHINE["DefinitionSubstitutions"].items():
        if "Fn::If" in value:  # the Standard branch, as the default WorkflowType deploys
            replacement = value["Fn::If"][2]
        else:
            replacement = FUNCTION_ARN if _names_a_function(value) else "threadline-threads"
        text = text.replace("${" + variable + "}", replacement)
    return text


def _names_a_function(value: dict[str, Any]) -> bool:
    """A substitution naming a function: its alias (``!Ref <Function>.Alias``) or its ``!GetAtt .Arn``."""
    return "Fn::GetAtt" in value or str(value.get("Ref", "")).endswith(".Alias")


def scopes(states: dict[str, Any], start: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every States block (with its StartAt): the top level and each Map's or Parallel's."""
    yield states, start
    for state in states.values():
        for processor in [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]:
            if processor:
                yield from scopes(processor["States"], processor["StartAt"])


def targets(state: dict[str, Any]) -> list[str]:
    found = [state.get("Next"), state.get("Default")]
    found += [choice.get("Next") for choice in state.get("Choices", [])]
    found += [catch.get("Next") for catch in state.get("Catch", [])]
    return [t for t in found if t is not None]


DEFINITION = json.loads(substituted())
ALL_SCOPES = list(scopes(DEFINITION["States"], DEFINITION["StartAt"]))
ALL_STATES = {name: state for states, _ in ALL_SCOPES for name, state in states.items()}


# ----- substitutions ---------------------------------------------------------------------------------


def test_every_variable_has_a_substitution_and_every_substitution_is_used() -> None:
    variables = set(re.findall(r"\$\{([^}]+)\}", TEXT))
    assert variables == set(MACHINE["DefinitionSubstitutions"])
    assert "${" not in substituted()


def test_every_substitution_names_a_resource_of_the_template() -> None:
    tables = resources("AWS::DynamoDB::Table")
    functions = resources("AWS::Serverless::Function")
    for variable, value in MACHINE["DefinitionSubstitutions"].items():
        if "Fn::If" in value:  # the wait's resource: Express has no task tokens
            condition, express, standard = value["Fn::If"]
            assert (condition, express, standard) == (
                "ExpressWorkflow",
                "arn:aws:states:::lambda:invoke",
                "arn:aws:states:::lambda:invoke.waitForTaskToken",
            ), variable
        elif _names_a_function(value):  # the function's alias `live` (AutoPublishAlias): SnapStart serves versions only
            assert value == {"Ref": f"{invoked_function(value)}.Alias"}, variable
            assert invoked_function(value) in functions, variable
        else:
            assert value["Ref"] in tables, variable


# ----- grammar -----------------------------------------------------------------------------------


@pytest.fixture
def sfn() -> Iterator[Any]:
    with mock_aws(config=MOTO_CONFIG):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def test_step_functions_accepts_the_definition(sfn: Any) -> None:
    # When the substituted definition is created as a Standard state machine
    arn = sfn.create_state_machine(name="agent-workflow", definition=substituted(), roleArn=ROLE_ARN, type="STANDARD")[
        "stateMachineArn"
    ]

    # Then it exists, with the definition as given
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(described["definition"]) == DEFINITION


def test_step_functions_rejects_a_broken_definition(sfn: Any) -> None:
    # (the check above can fail: the parser does read the grammar)
    broken = substituted().replace('"Type": "Choice"', '"Type": "Choise"', 1)
    assert broken != substituted()
    with pytest.raises(ClientError) as raised:
        sfn.create_state_machine(name="broken", definition=broken, roleArn=ROLE_ARN)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Choise" in raised.value.response["Error"]["Message"]


def test_every_transition_names_a_state_of_its_own_scope() -> None:
    # (moto's parser accepts a Next naming no state; Step Functions does not)
    for states, start in ALL_SCOPES:
        assert start in states
        for name, state in states.items():
            assert set(targets(state)) <= set(states), name


def test_every_state_is_reachable_and_every_path_ends() -> None:
    for states, start in ALL_SCOPES:
        seen, todo = set(), [start]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(targets(states[name]))
        assert seen == set(states), set(states) - seen
        for name, state in states.items():
            terminal = state["Type"] in {"Choice", "Succeed", "Fail"} or state.get("End") is True
            assert terminal or "Next" in state, name


# ----- what the docs promise ------------------------------------------------------------------------


def test_the_definition_never_builds_a_key() -> None:
    # Keys arrive precomputed in the plan (threadline.workflow.executions); store.keys owns their format
    assert "States.Format" not in TEXT
    assert not re.search(r'"(T|STEP|C)#', TEXT)


def dynamodb_tasks() -> dict[str, dict[str, Any]]:
    return {
        name: state
        for name, state in ALL_STATES.items()
        if state["Type"] == "Task" and state["Resource"].startswith("arn:aws:states:::dynamodb:")
    }


def test_every_write_is_conditional_so_replays_and_retries_change_nothing() -> None:
    writes = dynamodb_tasks()
    assert writes, "the definition records steps with DynamoDB service integrations"
    for name, state in writes.items():
        assert state["Parameters"]["TableName"] == "threadline-threads", name
        assert state["Parameters"].get("ConditionExpression"), name
        caught = {error for catch in state.get("Catch", []) for error in catch["ErrorEquals"]}
        assert "DynamoDB.ConditionalCheckFailedException" in caught, name


def test_a_step_is_one_choice_and_one_task_and_its_agent_function_records_it() -> None:
    # Per step: StepKind, then RunStep (the agent function records start and end) or the wait
    steps = ALL_SCOPES[-1][0]
    assert ALL_SCOPES[-1][1] == "StepKind"
    kind = steps["StepKind"]
    assert kind["Choices"] == [{"Variable": "$.step.wait", "BooleanEquals": True, "Next": "WaitForHuman"}]
    assert kind["Default"] == "RunStep"
    run = steps["RunStep"]
    assert run["End"] is True and run["ResultPath"] is None
    assert run["Parameters"]["Payload"] == {
        "action": "run",
        "thread.$": "$.thread",
        "run.$": "$.run",
        "step.$": "$.step",
    }


def test_a_decision_is_recorded_with_its_threads_change_only_while_the_run_is_current() -> None:
    # The human's decision completes the waiting step and touches the thread in one transaction
    recorded = ALL_STATES["RecordDecision"]
    assert recorded["Resource"] == "arn:aws:states:::aws-sdk:dynamodb:transactWriteItems"
    step, touch = recorded["Parameters"]["TransactItems"]
    assert step["Update"]["ConditionExpression"] == "#status IN (:waiting)"
    assert touch["Update"]["Key"] == {"pk": {"S.$": "$.thread_key.pk"}, "sk": {"S.$": "$.thread_key.sk"}}
    assert touch["Update"]["UpdateExpression"] == "SET updated_at = :now ADD version :one"
    assert touch["Update"]["ConditionExpression"] == ACTIVE_RUN_CONDITION
    # And a refusal is read from its reasons, step first: the run closed, the decision there (a replay)
    refused = ALL_STATES["DecisionRefused"]
    assert [(c["StringMatches"], c["Next"]) for c in refused["Choices"]] == [
        ("*, ConditionalCheckFailed*", "ThreadClosed"),
        ("*ConditionalCheckFailed, None*", "DecisionRecorded"),
        ("*TransactionConflict*", "DecisionConflicted"),
    ]
    assert ALL_STATES["DecisionConflicted"]["Next"] == "RecordDecision"  # another transaction held it
    assert ALL_STATES[refused["Default"]]["Type"] == "Fail"  # never a loop on a reason it cannot wait out


def test_a_failed_step_task_closes_its_step() -> None:
    # The agent function's own failures, or its timeout or crash after the step started
    caught = ALL_STATES["RunStep"]["Catch"]
    assert caught == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordStepFailed"}]


def lambda_tasks() -> dict[str, dict[str, Any]]:
    return {
        name: state
        for name, state in ALL_STATES.items()
        if state["Type"] == "Task" and state["Resource"].startswith("arn:aws:states:::lambda:invoke")
    }


def test_agent_calls_retry_lambdas_own_errors_only() -> None:
    calls = {**lambda_tasks(), "WaitForHuman": ALL_STATES["WaitForHuman"]}
    assert {state["Parameters"]["FunctionName"] for state in calls.values()} == {FUNCTION_ARN}
    for name, state in calls.items():
        retried = {error for retry in state.get("Retry", []) for error in retry["ErrorEquals"]}
        # An agent's own exception fails its step at once: retrying a deterministic agent repeats it
        assert retried == LAMBDA_ERRORS, name


def test_the_wait_for_a_human_is_bounded_by_the_steps_timeout() -> None:
    wait = ALL_STATES["WaitForHuman"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"  # as Standard deploys it
    assert wait["TimeoutSecondsPath"] == "$.step.timeout_seconds"
    assert wait["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    caught = {error for catch in wait.get("Catch", []) for error in catch["ErrorEquals"]}
    assert caught & {"States.ALL", "States.Timeout"}


def test_retry_intervals_are_short_enough_for_tests_and_the_local_server() -> None:
    # moto sleeps Retry intervals in real time
    for name, state in ALL_STATES.items():
        for retry in state.get("Retry", []):
            assert retry.get("IntervalSeconds", 1) <= 2, name
