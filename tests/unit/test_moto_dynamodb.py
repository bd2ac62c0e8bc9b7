"""The emulation's DynamoDB behaves as DynamoDB under racing requests (conditional writes are
atomic, ReturnValues are of the write itself) and its TransactWriteItems too: all or nothing,
conditions first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from moto.server import ThreadedMotoServer
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


# ----- racing requests, on moto in server mode (as the local server runs it) -------------------


@pytest.fixture(scope="module")
def served() -> Iterator[Any]:
    """A DynamoDB client of moto's threaded server, started in this process with the patch in
    force (as ``threadline_tools.local`` starts it), and a table of its own."""
    with patched_dynamodb():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            client = boto3.client(
                "dynamodb",
                endpoint_url=f"http://127.0.0.1:{server.get_host_and_port()[1]}",
                region_name="us-east-1",
                aws_access_key_id="t",
                aws_secret_access_key="t",
                config=Config(max_pool_connections=THREADS),
            )
            client.create_table(
                TableName="raced",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            yield client
        finally:
            server.stop()


THREADS = 8


def _together(work: Callable[[int], list[Any]]) -> list[Any]:
    """``work(i)`` on THREADS threads released at once; every result, in one list."""
    start = threading.Barrier(THREADS)

    def run(index: int) -> list[Any]:
        start.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return [result for results in pool.map(run, range(THREADS)) for result in results]


def test_racing_conditional_writes_never_lose_an_update(served: Any) -> None:
    # Given a counter, and writers that each add one ten times, by reading it and writing it back
    # on condition that it is still what they read (optimistic locking), retrying when it is not
    served.put_item(TableName="raced", Item={"pk": {"S": "optimistic"}, "n": {"N": "0"}})
    key = {"pk": {"S": "optimistic"}}

    def add_ten(_: int) -> list[int]:
        conflicts = 0
        for _ in range(10):
            while True:
                seen = served.get_item(TableName="raced", Key=key, ConsistentRead=True)["Item"]["n"]["N"]
                try:
                    served.put_item(
                        TableName="raced",
                        Item={**key, "n": {"N": str(int(seen) + 1)}},
                        ConditionExpression="n = :seen",
                        ExpressionAttributeValues={":seen": {"N": seen}},
                    )
                    break
                except served.exceptions.ConditionalCheckFailedException:
                    conflicts += 1
        return [conflicts]

    # When they all run at once
    conflicts = sum(_together(add_ten))

    # Then no update was lost: a condition and its write are one step
    assert served.get_item(TableName="raced", Key=key)["Item"]["n"] == {"N": str(THREADS * 10)}
    print(f"{THREADS * 10} optimistic increments, {conflicts} conditional check failures retried")


@pytest.fixture
def slow_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few milliseconds between the steps of moto's PutItem (read the old item, then write) and
    UpdateItem (write, then read the written item for the reply), as a loaded machine would take:
    racing requests then certainly interleave there unless each request is one step."""
    import moto.dynamodb.responses
    from moto.dynamodb.comparisons import create_condition_expression_parser as parser  # read, parse, write
    from moto.dynamodb.models import DynamoDBBackend

    update = DynamoDBBackend.update_item  # it returns the live item, read for the reply after it returns

    def slow_parser(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.002)
        return parser(*args, **kwargs)

    def slow_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = update(self, *args, **kwargs)
        time.sleep(0.002)
        return result

    monkeypatch.setattr(moto.dynamodb.responses, "create_condition_expression_parser", slow_parser)
    monkeypatch.setattr(DynamoDBBackend, "update_item", slow_update)


def test_racing_writes_return_exactly_what_they_replaced_or_made(served: Any, slow_steps: None) -> None:
    # Given an item written by racing puts, each with a value of its own, each asking for the old item
    key = {"pk": {"S": "replaced"}}

    def put(index: int) -> list[str | None]:
        olds = []
        for round in range(5):
            item = {**key, "v": {"S": f"w{index}.{round}"}}
            reply = served.put_item(TableName="raced", Item=item, ReturnValues="ALL_OLD")
            olds.append(reply.get("Attributes", {}).get("v", {}).get("S"))
        return olds

    # When they run at once
    olds = _together(put)

    # Then each put replaced a different write (the first, none), and the last remains: the old
    # item a put returns is the one it replaced, read in the same step as its write
    last = served.get_item(TableName="raced", Key=key)["Item"]["v"]["S"]
    written = [f"w{index}.{round}" for index in range(THREADS) for round in range(5)]
    assert sorted(olds, key=str) == sorted([None] + [value for value in written if value != last], key=str)

    # And racing atomic counters each answer the value they made
    counter = {"pk": {"S": "added"}}

    def add(_: int) -> list[int]:
        made = []
        for _ in range(5):
            reply = served.update_item(
                TableName="raced",
                Key=counter,
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
            )
            made.append(int(reply["Attributes"]["n"]["N"]))
        return made

    assert sorted(_together(add)) == list(range(1, THREADS * 5 + 1))
