"""The index of a thread that is not on its header: metadata items and counters.

Both follow the header's *stored* changes (the threads table's stream → ``functions/
index_threads``), so every writer (the API, the state machine's own updates, a TTL purge) is
indexed alike, and a counter is never a hot item a client's request waits on.

Exactly once over an at-least-once stream: a per-thread state item records which counters the
thread counts in (live or deleted), which metadata items it has and the header version last
applied. Each change is applied as the difference between that record and the header, in
transactions that write the metadata items, move the counters and update the record together,
under an optimistic lock on the record, so a replayed, retried or concurrent application changes
nothing twice and one that lost a race writes nothing; counters never go negative (a thread
counts in the shard its id hashes to; its decrement meets its increment there). A purge leaves a
tombstone record (expiring after the stream's 24-hour retention) so that a replay cannot
index a thread that is gone, and takes the rest of the thread's partition with it (steps, user
data, metadata items): one TTL, on the header, purges a thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from threadline.models.metadata import indexed_pairs
from threadline.store import keys
from threadline.store.items import deserialize, serialize
from threadline.timeutil import backoff

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

Counted = dict[str, str]  # counter → "live" | "deleted"

_ITEMS_PER_TRANSACTION = 99  # + the state item: DynamoDB's 100
_TOMBSTONE_SECONDS = 2 * 24 * 3600  # longer than a stream record lives
_ATTEMPTS = 8


@dataclass(frozen=True)
class IndexState:
    """What the indexer last applied for one thread."""

    applied: int = 0
    revision: int = 0
    counted: Counted = field(default_factory=dict)
    entries: tuple[str, ...] = ()
    entries_stamp: str = ""
    purged: bool = False
    exists: bool = False


@dataclass(frozen=True)
class Wanted:
    """What a header asks of the index: counters, metadata items and their sort stamps."""

    org_id: str
    thread_id: str
    counted: Counted
    entries: dict[str, dict[str, Any]]
    entries_stamp: str

    @classmethod
    def of(cls, header: dict[str, Any]) -> Wanted:
        dims = keys.ThreadDimensions.of(header)
        deleted = dims.deleted
        state = "deleted" if deleted else "live"
        pairs = indexed_pairs(header.get("metadata"))
        counted = {name: state for name in dims.counters()}
        counted.update({keys.counter_name("metadata", pair.digest): state for pair in pairs})
        sort = {"created_at": header["created_at"], "updated_at": header["updated_at"]}
        entries = {
            pair.digest: {
                **keys.metadata_key(header["org_id"], header["id"], pair.digest),
                keys.DIMENSION_ATTRIBUTES["metadata"]: keys.dimension_partition(
                    "metadata", header["org_id"], pair.digest, deleted=deleted
                ),
                **sort,
            }
            for pair in pairs
        }
        stamp = f"{header['created_at']}|{header['updated_at']}|{state}"
        return cls(header["org_id"], header["id"], counted, entries, stamp)


class ThreadIndexer:
    """Applies a thread header's stored state to its metadata items and counters."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def apply(self, org_id: str, thread_id: str, header: dict[str, Any] | None, version: int) -> bool:
        """Index ``header`` (the thread item as stored at ``version``; None: purged). False when
        this version, or a later one, was applied already."""
        wanted = Wanted.of(header) if header is not None else Wanted(org_id, thread_id, {}, {}, "")
        for attempt in range(_ATTEMPTS):
            state = self._state(org_id, thread_id)
            if state.purged or state.applied >= version:
                return False
            try:
                if header is None:
                    self._purge_partition(org_id, thread_id)
                self._commit(state, wanted, version, purged=header is None)
                return True
            except _Contended:
                time.sleep(backoff(0.05 * 2**attempt))  # another application got there first
        raise RuntimeError(f"index of thread {thread_id} stayed contended over {_ATTEMPTS} attempts")

    # ----- steps of one application ---------------------------------------------------------
    def _purge_partition(self, org_id: str, thread_id: str) -> None:
        """A purged header takes its partition with it: steps, runs, user data (one TTL, on the
        header, purges a thread; TTL deletes cost no write units, and the header is the only item
        rewritten when a thread is deleted), and its runs' listing entries. Its metadata items go
        with the counters, in ``_commit``."""
        keep = keys.INDEX_STATE_SK
        start: dict[str, Any] | None = None
        doomed: list[dict[str, Any]] = []
        while True:
            request: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": keys.thread_pk(org_id, thread_id)}},
                "ProjectionExpression": "pk, sk, id",
                "ConsistentRead": True,
            }
            if start:
                request["ExclusiveStartKey"] = start
            reply = self._db.query(**request)
            for item in reply.get("Items", []):
                sk = item["sk"]["S"]
                if sk != keep and not sk.startswith(keys.METADATA_SK_PREFIX):
                    doomed.append({"DeleteRequest": {"Key": {"pk": item["pk"], "sk": item["sk"]}}})
                if sk.startswith(keys.RUN_SK_PREFIX):  # its run's listing entry, outside the partition
                    doomed.append({"DeleteRequest": {"Key": serialize(keys.run_entry_key(org_id, item["id"]["S"]))}})
            start = reply.get("LastEvaluatedKey")
            if not start:
                break
        if not keys.is_runs_org(org_id):  # the entry of a thread's run from before runs, if mirrored
            doomed.append({"DeleteRequest": {"Key": serialize(keys.run_entry_key(org_id, thread_id))}})
        unique = {(r["DeleteRequest"]["Key"]["pk"]["S"], r["DeleteRequest"]["Key"]["sk"]["S"]): r for r in doomed}
        self._batch_write(list(unique.values()))  # (a batch naming one key twice is refused)

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self._table: requests[start : start + 25]}
            for attempt in range(_ATTEMPTS):
                unprocessed = self._db.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not unprocessed:
                    break
                pending = unprocessed
                time.sleep(backoff(0.05 * 2**attempt))
            else:
                raise RuntimeError("index writes stayed unprocessed")

    def _commit(self, state: IndexState, wanted: Wanted, version: int, purged: bool) -> None:
        """Metadata items and counters to ``wanted``, with the state record, in transactions
        conditioned on the record being as read: an application that lost a race writes nothing."""
        shard = keys.counter_shard(wanted.thread_id)
        changes: list[tuple[list[TransactWriteItemTypeDef], str, str, str | None]] = []  # ops, kind, name, after
        if set(state.entries) != set(wanted.entries) or state.entries_stamp != wanted.entries_stamp:
            for digest, item in wanted.entries.items():  # (not when only a status moved, say)
                changes.append(([{"Put": {"TableName": self._table, "Item": serialize(item)}}], "entry", digest, "1"))
            for digest in state.entries:
                if digest not in wanted.entries:
                    key = serialize(keys.metadata_key(wanted.org_id, wanted.thread_id, digest))
                    changes.append(([{"Delete": {"TableName": self._table, "Key": key}}], "entry", digest, None))
        for name in sorted(set(state.counted) | set(wanted.counted)):
            before, after = state.counted.get(name), wanted.counted.get(name)
            if before == after:
                continue
            ops = [self._add(wanted.org_id, name, before, shard, -1)] if before is not None else []
            ops += [self._add(wanted.org_id, name, after, shard, 1)] if after is not None else []
            changes.append((ops, "counter", name, after))

        chunks: list[list[tuple[list[TransactWriteItemTypeDef], str, str, str | None]]] = [[]]
        for change in changes:
            if sum(len(ops) for ops, *_ in chunks[-1]) + len(change[0]) > _ITEMS_PER_TRANSACTION:
                chunks.append([])
            chunks[-1].append(change)
        counted, entries = dict(state.counted), set(state.entries)
        revision = state.revision
        for position, chunk in enumerate(chunks):
            operations: list[TransactWriteItemTypeDef] = []
            for ops, kind, name, after in chunk:
                operations += ops
                progress: dict[str, Any] = counted if kind == "counter" else dict.fromkeys(entries, "1")
                if after is None:
                    progress.pop(name, None)
                else:
                    progress[name] = after
                if kind == "entry":
                    entries = set(progress)
            last = position == len(chunks) - 1
            record: dict[str, Any] = {
                ":revision": revision + 1,
                ":counted": counted,
                ":entries": sorted(entries),
                ":applied": version if last else state.applied,
            }
            assignments = "revision = :revision, counted = :counted, entries = :entries, applied = :applied"
            if last:
                record.update({":stamp": wanted.entries_stamp, ":purged": purged})
                assignments += ", entries_stamp = :stamp, purged = :purged"
                if purged:
                    record[":expires"] = int(time.time()) + _TOMBSTONE_SECONDS
                    assignments += ", purge_at = :expires"
            if state.exists or revision > state.revision:
                condition, record[":expected"] = "revision = :expected", revision
            else:
                condition = "attribute_not_exists(pk)"
            operations.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": serialize(keys.index_state_key(wanted.org_id, wanted.thread_id)),
                        "UpdateExpression": f"SET {assignments}",
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": serialize(record),
                    }
                }
            )
            try:
                self._db.transact_write_items(TransactItems=operations)
            except self._db.exceptions.TransactionCanceledException as error:
                raise _Contended from error
            except self._db.exceptions.TransactionConflictException as error:  # pragma: no cover - AWS only
                raise _Contended from error
            revision += 1

    def _add(self, org_id: str, counter: str, state: str, shard: int, delta: int) -> TransactWriteItemTypeDef:
        return {
            "Update": {
                "TableName": self._table,
                "Key": serialize(
                    {"pk": keys.counter_pk(org_id, counter), "sk": keys.counter_sk(state == "deleted", shard)}
                ),
                "UpdateExpression": "ADD n :delta",
                "ExpressionAttributeValues": serialize({":delta": delta}),
            }
        }

    def _state(self, org_id: str, thread_id: str) -> IndexState:
        reply = self._db.get_item(
            TableName=self._table, Key=serialize(keys.index_state_key(org_id, thread_id)), ConsistentRead=True
        )
        if "Item" not in reply:
            return IndexState()
        item = deserialize(reply["Item"])
        return IndexState(
            applied=int(item.get("applied", 0)),
            revision=int(item.get("revision", 0)),
            counted=dict(item.get("counted") or {}),
            entries=tuple(item.get("entries") or ()),
            entries_stamp=str(item.get("entries_stamp", "")),
            purged=bool(item.get("purged", False)),
            exists=True,
        )


class CounterStore:
    """Reads the counters ``total_count`` comes from."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def count(self, org_id: str, counter: str, include_deleted: bool) -> int:
        """Threads counted in ``counter`` (live ones, or all): one Query over its shards."""
        reply = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.counter_pk(org_id, counter)}},
        )
        total = 0
        for item in reply.get("Items", []):
            if include_deleted or item["sk"]["S"].startswith("live#"):
                total += int(item.get("n", {}).get("N", "0"))
        return total


class _Contended(Exception):
    """Another application of the same thread, or a counter transaction, got in first."""
