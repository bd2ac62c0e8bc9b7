"""The least-privilege audit's rules (threadline_tools.permissions), on made-up calls: what IAM
action and resource each call needs, and how a policy's statements are matched and used."""

from __future__ import annotations

from typing import Any

import pytest
from threadline_tools.permissions import Access, Call, Emulation, Statement, audit, workflow_calls
from threadline_tools.provision import Deployment

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table"
DEPLOYMENT = Deployment(
    threads_table="t-threads",
    keys_table="t-keys",
    kms_key_id="k-1",
    state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:threadline-agent-workflow",
    idempotency_table="t-idem",
    events_table="t-events",
    webhooks_table="t-hooks",
    webhook_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/threadline-WebhookDeliveryQueue",
    webhook_dead_letter_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/threadline-WebhookDeadLetterQueue",
)
EMULATION = Emulation(DEPLOYMENT)


def accesses(service: str, operation: str, **params: Any) -> list[Access]:
    return EMULATION.accesses(Call("F", service, operation, params))


def test_a_transaction_needs_each_items_action_on_its_table() -> None:
    calls = accesses(
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "t-threads", "Item": {"pk": {"S": "T#a"}, "sk": {"S": "THREAD"}}}},
            {"Update": {"TableName": "t-threads", "Key": {"pk": {"S": "T#a"}, "sk": {"S": "S"}}}},
            {"Delete": {"TableName": "t-idem", "Key": {"id": {"S": "x"}}}},
            {"ConditionCheck": {"TableName": "t-threads", "Key": {"pk": {"S": "C#a"}, "sk": {"S": "C"}}}},
        ],
    )
    assert [(a.action, a.resource, a.values("dynamodb:LeadingKeys")) for a in calls] == [
        ("dynamodb:PutItem", f"{ARN}/t-threads", ("T#a",)),
        ("dynamodb:UpdateItem", f"{ARN}/t-threads", ("T#a",)),
        ("dynamodb:DeleteItem", f"{ARN}/t-idem", ("x",)),
        ("dynamodb:ConditionCheckItem", f"{ARN}/t-threads", ("C#a",)),
    ]


def test_batches_are_actions_of_their_own_and_an_index_is_a_resource_of_its_own() -> None:
    (batch,) = accesses(
        "dynamodb",
        "BatchWriteItem",
        RequestItems={
            "t-threads": [
                {"PutRequest": {"Item": {"pk": {"S": "T#a"}, "sk": {"S": "M"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "T#b"}, "sk": {"S": "M"}}}},
            ]
        },
    )
    assert (batch.action, batch.values("dynamodb:LeadingKeys")) == ("dynamodb:BatchWriteItem", ("T#a", "T#b"))
    (query,) = accesses(
        "dynamodb",
        "Query",
        TableName="t-events",
        IndexName="by_org",
        KeyConditionExpression="org_pk = :partition AND sk > :after",
        ExpressionAttributeValues={":partition": {"S": "O#a"}, ":after": {"S": "E"}},
    )
    assert (query.action, query.resource) == ("dynamodb:Query", f"{ARN}/t-events/index/by_org")
    (table_query,) = accesses(
        "dynamodb",
        "Query",
        TableName="t-threads",
        KeyConditionExpression="#pk = :p",
        ExpressionAttributeNames={"#pk": "pk"},
        ExpressionAttributeValues={":p": {"S": "T#a"}},
    )
    assert table_query.values("dynamodb:LeadingKeys") == ("T#a",)


def test_other_services_name_their_resource() -> None:
    assert accesses("kms", "Decrypt", CiphertextBlob=b"x", EncryptionContext={"purpose": "p"}) == [
        Access(
            "kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/k-1", (("kms:EncryptionContext:purpose", ("p",)),)
        )
    ]
    (sent,) = accesses("sqs", "SendMessageBatch", QueueUrl=DEPLOYMENT.webhook_queue_url, Entries=[])
    assert sent == Access("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:threadline-WebhookDeliveryQueue")
    (stop,) = accesses("stepfunctions", "StopExecution", executionArn="arn:aws:states:::execution:m:e")
    assert stop == Access("states:StopExecution", "arn:aws:states:::execution:m:e")


def statement(actions: tuple[str, ...], resource: str, condition: dict[str, Any] | None = None) -> Statement:
    return Statement(0, "Allow", actions, ((resource, resource),), condition or {})


@pytest.mark.parametrize(
    ("access", "allowed"),
    [
        (Access("dynamodb:GetItem", f"{ARN}/t", (("dynamodb:LeadingKeys", ("T#1",)),)), True),
        (Access("dynamodb:GetItem", f"{ARN}/t", (("dynamodb:LeadingKeys", ("C#1",)),)), False),
        (Access("dynamodb:GetItem", f"{ARN}/t", ()), True),  # ForAllValues over no value holds, as on AWS
        (Access("dynamodb:GetItem", f"{ARN}/t/index/i", ()), False),  # the table's ARN is not its index's
        (Access("dynamodb:PutItem", f"{ARN}/t", ()), False),
    ],
)
def test_a_statement_matches_action_resource_and_condition(access: Access, allowed: bool) -> None:
    leading = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#*"]}}
    assert statement(("dynamodb:GetItem",), f"{ARN}/t", leading).matches(access) is allowed


def test_a_condition_the_audit_does_not_know_fails_loudly() -> None:
    unknown = statement(("kms:Decrypt",), "*", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    with pytest.raises(ValueError, match="IpAddress"):
        unknown.matches(Access("kms:Decrypt", "arn:aws:kms:::key/k"))


def test_the_audit_reports_a_call_not_allowed_and_a_policy_not_used() -> None:
    # GetContextFunction may GetItem the threads table's C# partitions, nothing else
    call = Call("GetContextFunction", "dynamodb", "GetItem", {"TableName": "t-threads", "Key": {"pk": {"S": "T#x"}}})
    found = {(f.kind, f.what) for f in audit(EMULATION, "GetContextFunction", [call])}
    assert found == {("not allowed", "dynamodb:GetItem"), ("unused action", "dynamodb:GetItem")}
    allowed = Call("GetContextFunction", "dynamodb", "GetItem", {"TableName": "t-threads", "Key": {"pk": {"S": "C#x"}}})
    assert audit(EMULATION, "GetContextFunction", [allowed]) == []


def test_the_state_machines_tasks_are_read_from_its_definition() -> None:
    definition = """{"States": {
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "${Fn}", "Payload.$": "$"}},
        "Record": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:transactWriteItems",
                   "Parameters": {"TransactItems": [{"Update": {"TableName": "${Table}", "Key.$": "$.k"}}]}}}}"""
    calls = workflow_calls(definition, {"Fn": "arn:aws:lambda:us-east-1:1:function:f", "Table": "t-threads"})
    needed = [a for c in calls for a in EMULATION.accesses(c)]
    assert needed == [
        Access("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:1:function:f"),
        Access("dynamodb:UpdateItem", f"{ARN}/t-threads"),
    ]
