"""Create the template's resources on an AWS emulation (moto): the tables with
the template's own key schemas and indexes, the KMS key, the Lambda functions
the state machine invokes (run in-process by ``lambda_bridge``) and the state
machine from its ASL file with the template's substitutions."""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3

from threadline_tools.template import ROOT, invoked_function, resources

ROLE_ARN = "arn:aws:iam::123456789012:role/threadline-local"
THREADS_TABLE = "ThreadsTableV2"  # the template's logical id of the threads table


@dataclass(frozen=True)
class Deployment:
    """Names of what ``provision`` created."""

    threads_table: str
    keys_table: str
    kms_key_id: str
    state_machine_arn: str
    idempotency_table: str = ""
    events_table: str = ""
    webhooks_table: str = ""
    webhook_queue_url: str = ""
    webhook_dead_letter_queue_url: str = ""
    # moto Lambda function name → template logical id (see lambda_bridge.bridged)
    functions: dict[str, str] = field(default_factory=dict)
    # The state machine's DefinitionSubstitutions, as resolved here
    substitutions: dict[str, str] = field(default_factory=dict)
    retention_days: int = 30
    # Signs list cursors (the template generates one per stack in Secrets Manager)
    cursor_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def environment(self) -> dict[str, str]:
        """The functions' environment variables (as template.yaml's Globals set them)."""
        return {
            "THREADS_TABLE": self.threads_table,
            "KEYS_TABLE": self.keys_table,
            "STATE_MACHINE_ARN": self.state_machine_arn,
            "KMS_KEY_ID": self.kms_key_id,
            "RETENTION_DAYS": str(self.retention_days),
            "CURSOR_SECRET": self.cursor_secret,
            "IDEMPOTENCY_TABLE": self.idempotency_table,  # (set on the creating functions only)
            "EVENTS_TABLE": self.events_table,
            "WEBHOOKS_TABLE": self.webhooks_table,
            "WEBHOOK_QUEUE_URL": self.webhook_queue_url,
            "POWERTOOLS_SERVICE_NAME": "threadline",
        }


def _table_request(logical_id: str, name: str) -> dict[str, Any]:
    props = resources("AWS::DynamoDB::Table")[logical_id]["Properties"]
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props["BillingMode"],
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return request


def provision(prefix: str = "threadline", **client_args: Any) -> Deployment:
    """Create everything stateful the template declares; returns the names."""
    dynamodb = boto3.client("dynamodb", **client_args)
    names = {
        THREADS_TABLE: f"{prefix}-threads",
        "KeysTable": f"{prefix}-keys",
        "IdempotencyTable": f"{prefix}-idempotency",
        "EventsTable": f"{prefix}-events",
        "WebhooksTable": f"{prefix}-webhooks",
    }
    for logical_id, name in names.items():
        dynamodb.create_table(**_table_request(logical_id, name))
        ttl = resources("AWS::DynamoDB::Table")[logical_id]["Properties"].get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)

    queues = _create_queues(prefix, client_args)
    key_id = boto3.client("kms", **client_args).create_key(Description="threadline user_data")["KeyMetadata"]["KeyId"]

    machine = resources("AWS::Serverless::StateMachine")["AgentWorkflow"]["Properties"]
    definition = (ROOT / machine["DefinitionUri"]).read_text()
    functions: dict[str, str] = {}
    substitutions: dict[str, str] = {}
    for variable, value in machine["DefinitionSubstitutions"].items():
        if "Fn::If" in value:  # the template's default (STANDARD) branch of a WorkflowType condition
            replacement = value["Fn::If"][2]
        elif "Ref" in value and value["Ref"] in names:
            replacement = names[value["Ref"]]
        else:  # !Ref <Function>.Alias: a function the state machine invokes (moto's has no alias)
            logical_id = invoked_function(value)
            name = f"{prefix}-{logical_id}"
            replacement = _create_function(name, client_args)
            functions[name] = logical_id
        substitutions[variable] = replacement
        definition = definition.replace("${" + variable + "}", replacement)
    json.loads(definition)  # every substitution left valid JSON
    arn = boto3.client("stepfunctions", **client_args).create_state_machine(
        name=f"{prefix}-agent-workflow", definition=definition, roleArn=ROLE_ARN, type="STANDARD"
    )["stateMachineArn"]
    return Deployment(
        threads_table=names[THREADS_TABLE],
        keys_table=names["KeysTable"],
        idempotency_table=names["IdempotencyTable"],
        events_table=names["EventsTable"],
        webhooks_table=names["WebhooksTable"],
        webhook_queue_url=queues["WebhookDeliveryQueue"],
        webhook_dead_letter_queue_url=queues["WebhookDeadLetterQueue"],
        kms_key_id=key_id,
        state_machine_arn=arn,
        functions=functions,
        substitutions=substitutions,
    )


def _create_queues(prefix: str, client_args: dict[str, Any]) -> dict[str, str]:
    """The template's webhook queues, with its attributes (the delivery queue's redrive policy
    names the dead-letter queue's ARN); their URLs by logical id."""
    sqs = boto3.client("sqs", **client_args)
    declared = resources("AWS::SQS::Queue")
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    for logical_id in ("WebhookDeadLetterQueue", "WebhookDeliveryQueue"):
        props = declared[logical_id]["Properties"]
        attributes: dict[Any, str] = {
            name: str(props[name]) for name in ("VisibilityTimeout", "MessageRetentionPeriod") if name in props
        }
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[target], "maxReceiveCount": int(redrive["maxReceiveCount"])}
            )
        url = sqs.create_queue(QueueName=f"{prefix}-{logical_id}", Attributes=attributes)["QueueUrl"]
        urls[logical_id] = url
        arns[logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return urls


def _create_function(name: str, client_args: dict[str, Any]) -> str:
    """A Lambda function in moto (its code never runs: the bridge calls the handler)."""
    iam = boto3.client("iam", **client_args)
    role = ROLE_ARN.rsplit("/", 1)[1]
    try:
        iam.get_role(RoleName=role)
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    created = boto3.client("lambda", **client_args).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE_ARN,
        Handler="app.lambda_handler",
        Code={"ZipFile": archive.getvalue()},
    )
    return str(created["FunctionArn"])
