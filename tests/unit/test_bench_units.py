"""Item sizes, read units and write units by AWS's rules (tools/threadline_tools/bench_calls.py,
bench_units.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from threadline_tools.bench_calls import item_read_units, item_size, number_size, query_read_units
from threadline_tools.bench_units import IndexShape, TableShape, WriteMeter, table_shape, write_units

# pk 2+5, sk 2+6, n 1+3, ok 2+1, m 1+(3+1+2+1), l 1+(3+(2+1)+(1+1))
ITEM: dict[str, Any] = {
    "pk": {"S": "T#a#1"},
    "sk": {"S": "THREAD"},
    "n": {"N": "123"},
    "ok": {"BOOL": True},
    "m": {"M": {"a": {"S": "xy"}}},
    "l": {"L": [{"N": "1"}, {"NULL": True}]},
}
ITEM_SIZE = 7 + 8 + 4 + 3 + 8 + 9

SHAPE = TableShape(keys=("pk", "sk"), indexes=(IndexShape("by_g", ("g", "c")),))


def test_an_item_is_its_names_and_values() -> None:
    assert item_size(ITEM) == ITEM_SIZE
    assert item_size({"b": {"B": b"\x00" * 10}, "é": {"S": "é"}}) == 1 + 10 + 2 + 2


def test_a_number_is_a_byte_per_two_significant_digits_plus_one() -> None:
    assert number_size("7") == 2
    assert number_size("-12345") == 4
    assert number_size("1200.00") == 2  # trailing zeros trimmed: "12"
    assert number_size("0.0015") == 2


def test_reads_round_up_to_4_kb_and_halve_when_eventually_consistent() -> None:
    assert query_read_units(5000, consistent=False) == 1.0
    assert query_read_units(5000, consistent=True) == 2.0
    assert query_read_units(0, consistent=False) == 0.5  # a Query that finds nothing still costs
    assert item_read_units(4096, consistent=True) == 1.0


def test_a_new_item_costs_its_kilobytes_and_a_put_in_each_index_it_enters() -> None:
    new = {**ITEM, "g": {"S": "acme"}, "c": {"S": "2024"}, "blob": {"S": "x" * 1500}}
    units = write_units(None, new, SHAPE)
    assert (units.table, units.indexes) == (2, 1)  # ~1.5 KB; the keys-only entry, 1 KB
    assert write_units(None, new, SHAPE, transactional=True).table == 4


def test_an_index_key_change_is_a_delete_and_a_put_and_a_projected_change_an_update() -> None:
    old = {**ITEM, "g": {"S": "acme"}, "c": {"S": "2024"}}
    moved = {**old, "c": {"S": "2025"}}
    touched = {**old, "n": {"N": "124"}}
    left = {k: v for k, v in old.items() if k != "g"}
    assert write_units(old, moved, SHAPE).indexes == 2
    assert write_units(old, touched, SHAPE).indexes == 0  # keys-only: nothing projected changed
    everything = TableShape(keys=("pk", "sk"), indexes=(IndexShape("by_g", ("g", "c"), "ALL"),))
    assert write_units(old, touched, everything).indexes == 1
    assert write_units(old, left, SHAPE).indexes == 1
    assert write_units(ITEM, ITEM, SHAPE).indexes == 0  # in no index before or after


def test_the_threads_table_shape_comes_from_the_template() -> None:
    shape = table_shape("ThreadsTableV2")
    assert shape.keys == ("pk", "sk")
    assert {i.name for i in shape.indexes} >= {"by_org_created", "by_metadata_updated"}
    assert all(i.projection == "KEYS_ONLY" for i in shape.indexes)


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "g", "c")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_g",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "c", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def test_the_meter_reads_each_written_item_before_and_after(table: Any) -> None:
    # Given a meter on a client, reading through another
    meter = WriteMeter(boto3.client("dynamodb", region_name="us-east-1"), {"t": SHAPE})
    meter.attach(table)
    key = {"pk": {"S": "p"}, "sk": {"S": "s"}}
    # When an item is put, moved in the index, then deleted in a transaction
    with meter.metering() as units:
        table.put_item(TableName="t", Item={**key, "g": {"S": "acme"}, "c": {"S": "1"}})
        table.update_item(
            TableName="t", Key=key, UpdateExpression="SET c = :c", ExpressionAttributeValues={":c": {"S": "2"}}
        )
        table.transact_write_items(TransactItems=[{"Delete": {"TableName": "t", "Key": key}}])
    # Then: 1 + 1 + 2 on the table, 1 + 2 + 1 on the index
    assert (units.items, units.table, units.indexes) == (3, 4, 4)
    # And nothing is metered outside the block
    table.put_item(TableName="t", Item=key)
    assert units.items == 3
