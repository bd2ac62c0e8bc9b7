"""DynamoDB write units by AWS's rules, from the items a write changed.

A write costs, on the table, the larger of the item's size before and after, rounded up to
1 KB (twice that inside ``TransactWriteItems``), and on each global secondary index what the
change does to the item's index entry: nothing if the item is in the index neither before nor
after, or its entry is unchanged; one put of the new entry when it enters, one delete of the old
entry when it leaves, both when its index key changes, one update when only projected non-key
attributes change; each rounded up to 1 KB of the entry's size (a ``KEYS_ONLY`` entry holds
the table's keys and the index's keys). The indexes come from ``template.yaml``.

``WriteMeter`` applies this to real writes: hooked on a client, it reads each item a write
names before the call and after it (through a client of its own, so the reads are not the
write's) and sums the units. A write that fails is not counted (AWS bills a failed condition
too); a ``ConditionCheck`` of a transaction writes nothing and is not counted either.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from threadline_tools.bench_calls import item_size
from threadline_tools.template import resources

WRITE_UNIT_BYTES = 1024
Item = Mapping[str, Any]  # low-level format: name → {"S": ...}

_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


@dataclass(frozen=True)
class IndexShape:
    """One global secondary index: its key attributes and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: str = "KEYS_ONLY"  # or INCLUDE, ALL
    non_key: tuple[str, ...] = ()

    def entry(self, item: Item | None, table_keys: tuple[str, ...]) -> dict[str, Any] | None:
        """The item's entry in this index; None when the item lacks a key attribute (sparse)."""
        if item is None or any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        kept = (*table_keys, *self.keys, *(self.non_key if self.projection == "INCLUDE" else ()))
        return {k: item[k] for k in kept if k in item}


@dataclass(frozen=True)
class TableShape:
    """A table's key attributes and global secondary indexes."""

    keys: tuple[str, ...]
    indexes: tuple[IndexShape, ...] = ()


def table_shape(logical_id: str) -> TableShape:
    """The shape of a table the template declares."""
    props = resources("AWS::DynamoDB::Table")[logical_id]["Properties"]
    indexes = tuple(
        IndexShape(
            name=index["IndexName"],
            keys=tuple(k["AttributeName"] for k in index["KeySchema"]),
            projection=index["Projection"]["ProjectionType"],
            non_key=tuple(index["Projection"].get("NonKeyAttributes", ())),
        )
        for index in props.get("GlobalSecondaryIndexes", ())
    )
    return TableShape(keys=tuple(k["AttributeName"] for k in props["KeySchema"]), indexes=indexes)


@dataclass
class WriteUnits:
    """Write units summed over items written: on the table and on its indexes."""

    table: float = 0.0
    indexes: float = 0.0
    items: int = 0
    by_index: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return self.table + self.indexes

    def add(self, other: WriteUnits) -> None:
        self.table += other.table
        self.indexes += other.indexes
        self.items += other.items
        for name, units in other.by_index.items():
            self.by_index[name] = self.by_index.get(name, 0.0) + units


def write_units(old: Item | None, new: Item | None, shape: TableShape, transactional: bool = False) -> WriteUnits:
    """Units of one item's write, from the item before (None: absent) and after (None: deleted)."""
    table = _kb(max(item_size(old or {}), item_size(new or {})))
    units = WriteUnits(table=table * (2 if transactional else 1), items=1)
    for index in shape.indexes:
        cost = _index_units(index.entry(old, shape.keys), index.entry(new, shape.keys), index.keys)
        if cost:
            units.by_index[index.name] = cost
            units.indexes += cost
    return units


def _index_units(before: dict[str, Any] | None, after: dict[str, Any] | None, index_keys: tuple[str, ...]) -> int:
    if before is None and after is None:
        return 0
    if before is None:
        return _kb(item_size(after or {}))  # enters: a put
    if after is None:
        return _kb(item_size(before))  # leaves: a delete
    if any(before[k] != after[k] for k in index_keys):
        return _kb(item_size(before)) + _kb(item_size(after))  # moves: a delete and a put
    return _kb(item_size(after)) if before != after else 0  # projected attributes changed: an update


def _kb(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


class WriteMeter:
    """Sums the write units of the writes a client makes while ``metering`` (tables in ``shapes``)."""

    def __init__(self, reader: Any, shapes: Mapping[str, TableShape]) -> None:
        self._reader = reader  # a client of its own, not hooked
        self._shapes = dict(shapes)
        self._units: WriteUnits | None = None
        self._clients: list[Any] = []

    def attach(self, client: Any) -> None:
        """Hook ``client`` (once)."""
        if any(client is seen for seen in self._clients):
            return
        self._clients.append(client)
        client.meta.events.register("provide-client-params.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    @contextmanager
    def metering(self) -> Iterator[WriteUnits]:
        """The units of the writes made inside the block."""
        self._units = WriteUnits()
        try:
            yield self._units
        finally:
            self._units = None

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self._units is None or model.name not in _WRITES:
            return
        written = [(table, key, tx, self._read(table, key)) for table, key, tx in self._targets(model.name, params)]
        context["bench_writes"] = written

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        written = context.pop("bench_writes", None)
        if self._units is None or not written or "Error" in parsed:
            return
        for table, key, transactional, old in written:
            self._units.add(write_units(old, self._read(table, key), self._shapes[table], transactional))

    def _targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
        """(table, key, in a transaction) of each item the write names, on the tables metered."""
        found: list[tuple[str, dict[str, Any], bool]] = []

        def name(table: str, item: dict[str, Any] | None, key: dict[str, Any] | None, transactional: bool) -> None:
            shape = self._shapes.get(table)
            if shape is not None:
                found.append((table, key or {k: (item or {})[k] for k in shape.keys}, transactional))

        if operation == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                kind, op = next(iter(entry.items()))
                if kind != "ConditionCheck":
                    name(op["TableName"], op.get("Item"), op.get("Key"), True)
        elif operation == "BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        name(table, request["PutRequest"]["Item"], None, False)
                    else:
                        name(table, None, request["DeleteRequest"]["Key"], False)
        else:
            name(params["TableName"], params.get("Item"), params.get("Key"), False)
        return found

    def _read(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item
