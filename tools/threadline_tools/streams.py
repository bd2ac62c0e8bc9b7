"""The threads table's stream → IndexThreadsFunction, on the emulation, as Lambda's event source
mapping does it in AWS.

moto records a table's stream and serves the DynamoDB Streams read API (``describe_stream``,
``get_shard_iterator``, ``get_records``) but runs no event source mapping. ``StreamPump`` is
that mapping: it reads every shard from its last position, keeps the records the template's
``FilterCriteria`` keeps, and calls the function's own handler with Lambda's event shape
(``{"Records": [...]}``, each with its ``eventSourceARN``) in batches of the template's
``BatchSize``. A batch item failure is retried from the failed record, as Lambda does with
``ReportBatchItemFailures``; one that keeps failing stops the pump with an error (in AWS it
would block the shard until the record expires, then go to the on-failure queue).

One delivery runs at a time (as one poller per shard does), so the indexer's handler, which keeps
its batch on a module-level ``BatchProcessor``, never runs twice at once. ``catch_up`` is what
the local server runs before each read: concurrent reads share one delivery instead of queueing
one each.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Protocol

import boto3
from botocore.config import Config

from threadline_tools.gateway import ENVIRONMENTS, LambdaContext
from threadline_tools.template import resources

logger = logging.getLogger(__name__)

FUNCTION = "IndexThreadsFunction"
_RETRIES = 5
_PAGE = 1000  # records per GetRecords (DynamoDB's maximum)


def _mapping(function: str) -> dict[str, Any]:
    events = resources("AWS::Serverless::Function")[function]["Properties"]["Events"]
    return next(e["Properties"] for e in events.values() if e["Type"] == "DynamoDB")


def matches(pattern: Any, value: Any) -> bool:
    """Lambda event filtering: every key of the pattern present, leaves a list of allowed values
    (each a value, or ``{"prefix": ...}`` for a string that begins with it)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    if isinstance(pattern, list):
        return any(_allows(allowed, value) for allowed in pattern)
    return bool(pattern == value)


def _allows(allowed: Any, value: Any) -> bool:
    if isinstance(allowed, dict):
        if set(allowed) != {"prefix"}:
            raise ValueError(f"filter rule not emulated: {allowed}")
        return isinstance(value, str) and value.startswith(allowed["prefix"])
    return bool(allowed == value)


class StreamPump:
    """Delivers a table's new stream records to one function of the template (the indexer by
    default); ``drain()`` returns how many it delivered."""

    def __init__(self, table: str, function: str = FUNCTION, **client_args: Any) -> None:
        self._function = function
        mapping = _mapping(function)
        self._patterns = [json.loads(f["Pattern"]) for f in mapping.get("FilterCriteria", {}).get("Filters", [])]
        self._batch = int(mapping.get("BatchSize", 100))
        # moto serves the regional endpoint, not the account-based one botocore now prefers.
        config = Config(account_id_endpoint_mode="disabled")
        self._streams = boto3.client("dynamodbstreams", config=config, **client_args)
        self._arn = boto3.client("dynamodb", **client_args).describe_table(TableName=table)["Table"]["LatestStreamArn"]
        ENVIRONMENTS.prepare(function)  # a handler that fails to import fails here
        self._iterators: dict[str, str] = {}
        self._lock = threading.Lock()
        # catch_up's deliveries: how many began, how many ended well, and whether one is under way
        self._turns = threading.Condition()
        self._begun = 0
        self._done = 0
        self._delivering = False

    def catch_up(self) -> None:
        """Deliver every record written before this call. Callers that arrive while a delivery is
        under way wait for it and share the next one (it began after they arrived)."""
        with self._turns:
            wanted = self._begun + 1  # the first delivery to begin after this call
            while self._done < wanted:
                if not self._delivering:
                    self._delivering = True
                    self._begun += 1
                    mine = self._begun
                    break
                self._turns.wait()
            else:
                return
        delivered = False
        try:
            self.drain()
            delivered = True
        finally:
            with self._turns:
                self._delivering = False
                if delivered:  # a failed delivery satisfies nobody: a waiter tries again
                    self._done = mine
                self._turns.notify_all()

    def drain(self) -> int:
        """Deliver every record written so far (one caller at a time, like one poller per shard)."""
        with self._lock:
            delivered = 0
            shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"]
            for shard in shards:
                records = self._read(shard["ShardId"])
                wanted = [r for r in records if not self._patterns or any(matches(p, r) for p in self._patterns)]
                for start in range(0, len(wanted), self._batch):
                    self._deliver(wanted[start : start + self._batch])
                delivered += len(wanted)
            return delivered

    def _read(self, shard_id: str) -> list[dict[str, Any]]:
        iterator = (
            self._iterators.get(shard_id)
            or self._streams.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        )
        records: list[dict[str, Any]] = []
        while True:
            reply = self._streams.get_records(ShardIterator=iterator, Limit=_PAGE)
            records += reply.get("Records", [])
            iterator = reply["NextShardIterator"]
            # A short page is the shard's end as this read found it (moto fills every page it can):
            # reading on until an empty one would chase the writes of running workflows for as
            # long as they keep writing, and keep every request waiting on this delivery.
            if len(reply.get("Records", [])) < _PAGE:
                break
        self._iterators[shard_id] = iterator
        return records

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        for _ in range(_RETRIES):
            event = {"Records": [{**record, "eventSourceARN": self._arn} for record in _lambda_shaped(batch)]}
            reply = ENVIRONMENTS.invoke(self._function, event, LambdaContext(self._function)) or {}
            failures = [f["itemIdentifier"] for f in reply.get("batchItemFailures", [])]
            if not failures:
                return
            first = min(failures, key=int)  # Lambda resumes at the lowest failed sequence number
            batch = [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) >= int(first)]
        raise RuntimeError(f"{self._function} kept failing on stream record {batch[0]['dynamodb']['SequenceNumber']}")


def _lambda_shaped(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GetRecords' records as Lambda passes them: JSON values (creation time in epoch seconds)."""
    shaped = []
    for record in records:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if created is not None and hasattr(created, "timestamp"):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        shaped.append({**record, "dynamodb": change})
    return shaped


class Pump(Protocol):
    """What a poller drains: a stream's pump, or a queue's (``queues.QueuePump``)."""

    def drain(self) -> int: ...


class StreamPoller:
    """Drains a pump every ``interval`` seconds in a background thread (the local server's mapping)."""

    def __init__(self, pump: Pump, interval: float = 0.2) -> None:
        self._pump = pump
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._pump.drain()
            except Exception:  # keep polling, as the mapping retries; the error is in the log
                logger.exception("stream delivery failed; retrying")
