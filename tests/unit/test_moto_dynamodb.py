"""The emulation's TransactWriteItems behaves as DynamoDB's: all or nothing, conditions first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from threadline_tools.moto_dynamodb import patched_dynamodb


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(), patched_dynamodb():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client


def _records(client: Any) -> list[dict[str, Any]]:
    streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
    arn = client.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return list(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def test_a_cancelled_transaction_writes_nothing_and_streams_nothing(table: Any) -> None:
    # Given an item
    table.put_item(TableName="t", Item={"pk": {"S": "a"}})

    # When a transaction's second item fails its condition
    put = {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}}}}
    failing = {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}, "ConditionExpression": "attribute_not_exists(pk)"}}
    with pytest.raises(table.exceptions.TransactionCanceledException) as raised:
        table.transact_write_items(TransactItems=[put, failing])

    # Then the reasons name it, the first item was not written, and the stream holds only the first put
    assert [r["Code"] for r in raised.value.response["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in table.get_item(TableName="t", Key={"pk": {"S": "b"}})
    assert [r["eventName"] for r in _records(table)] == ["INSERT"]


def test_a_transaction_applies_every_item(table: Any) -> None:
    # When a transaction puts one item and adds to another twice over
    for _ in range(2):
        table.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "x"}}}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "n"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    # Then both are written
    assert table.get_item(TableName="t", Key={"pk": {"S": "n"}})["Item"]["n"] == {"N": "2"}
    assert "Item" in table.get_item(TableName="t", Key={"pk": {"S": "x"}})
