"""Create the template's stateful resources on an AWS emulation (moto): the
tables with the template's own key schemas and indexes, the KMS key and the
state machine from its ASL file with the template's substitutions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from threadline_tools.template import ROOT, resources

ROLE_ARN = "arn:aws:iam::123456789012:role/threadline-local"


@dataclass(frozen=True)
class Deployment:
    """Names of what ``provision`` created."""

    threads_table: str
    keys_table: str
    kms_key_id: str
    state_machine_arn: str
    retention_days: int = 30

    def environment(self) -> dict[str, str]:
        """The functions' environment variables (as template.yaml's Globals set them)."""
        return {
            "THREADS_TABLE": self.threads_table,
            "KEYS_TABLE": self.keys_table,
            "STATE_MACHINE_ARN": self.state_machine_arn,
            "KMS_KEY_ID": self.kms_key_id,
            "RETENTION_DAYS": str(self.retention_days),
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
    return request


def provision(prefix: str = "threadline", **client_args: Any) -> Deployment:
    """Create everything stateful the template declares; returns the names."""
    dynamodb = boto3.client("dynamodb", **client_args)
    names = {"ThreadsTable": f"{prefix}-threads", "KeysTable": f"{prefix}-keys"}
    for logical_id, name in names.items():
        dynamodb.create_table(**_table_request(logical_id, name))
        ttl = resources("AWS::DynamoDB::Table")[logical_id]["Properties"].get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)

    key_id = boto3.client("kms", **client_args).create_key(Description="threadline user_data")["KeyMetadata"]["KeyId"]

    machine = resources("AWS::Serverless::StateMachine")["AgentWorkflow"]["Properties"]
    definition = (ROOT / machine["DefinitionUri"]).read_text()
    for variable, value in machine["DefinitionSubstitutions"].items():
        logical_id = value["Ref"]
        definition = definition.replace("${" + variable + "}", names[logical_id])
    json.loads(definition)  # every substitution left valid JSON
    arn = boto3.client("stepfunctions", **client_args).create_state_machine(
        name=f"{prefix}-agent-workflow", definition=definition, roleArn=ROLE_ARN, type="STANDARD"
    )["stateMachineArn"]
    return Deployment(
        threads_table=names["ThreadsTable"],
        keys_table=names["KeysTable"],
        kms_key_id=key_id,
        state_machine_arn=arn,
    )
