"""Bring a threads table to the current key design: copy a previous version's table, or rebuild
the index of this one.

    python -m threadline_tools.migrate --table NEW --from-table OLD   # upgrade (docs/deploy.md)
    python -m threadline_tools.migrate --table NEW --rebuild          # repair counters / metadata items

Copying turns each V1 thread item (``user_data`` inline, listing partitions without the
``#deleted`` twins) into a header and a user data item, and copies steps and contexts as they
are. Then every header is indexed by the same code the stream indexer runs
(``ThreadIndexer.apply``), so metadata items and counters come out exactly as live writes make
them. ``--rebuild`` first deletes the table's counters, index state and metadata items, then
indexes every header again (and the listing entries of every thread's runs, made anew from the
threads: how a table from before runs gets its runs listed): run it when nothing writes (a write
during the rebuild could be counted twice). Both are idempotent: run them again after an interruption.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
from threadline.store import keys
from threadline.store.items import deserialize, serialize
from threadline.store.runs import RunStore
from threadline.store.thread_index import ThreadIndexer

_DERIVED_PREFIXES = (keys.COUNTER_PK_PREFIX,)
_DERIVED_SKS = (keys.INDEX_STATE_SK, keys.METADATA_SK_PREFIX)


def scan(client: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every item of ``table`` (raw DynamoDB JSON), page by page."""
    start = None
    while True:
        request: dict[str, Any] = {"TableName": table}
        if start:
            request["ExclusiveStartKey"] = start
        reply = client.scan(**request)
        yield from reply.get("Items", [])
        start = reply.get("LastEvaluatedKey")
        if not start:
            return


def upgraded(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The current-design items of one V1 item (raw DynamoDB JSON in and out)."""
    if item.get("sk", {}).get("S") != keys.THREAD_SK:
        return [item]  # steps and contexts keep their keys and shape
    header = dict(item)
    blob = header.pop("user_data_enc", None)
    plain = deserialize(header)
    header.update(serialize(keys.ThreadDimensions.of(plain).attributes()))
    header["has_user_data"] = {"BOOL": blob is not None}
    items = [header]
    if blob is not None:
        items.append({**serialize(keys.user_data_key(plain["org_id"], plain["id"])), "user_data_enc": blob})
    return items


def _write(client: Any, table: str, requests: list[dict[str, Any]]) -> None:
    for start in range(0, len(requests), 25):
        pending: dict[str, Any] = {table: requests[start : start + 25]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def copy(client: Any, source: str, target: str) -> int:
    """Copy ``source`` (a V1 table) into ``target`` in the current design; the items copied. A
    header already there at a later version (written since a first run) is left as it is."""
    copied = 0
    batch: list[dict[str, Any]] = []
    for item in scan(client, source):
        for new in upgraded(item):
            if new["sk"]["S"] == keys.THREAD_SK:
                try:
                    client.put_item(
                        TableName=target,
                        Item=new,
                        ConditionExpression="attribute_not_exists(pk) OR version <= :version",
                        ExpressionAttributeValues={":version": new.get("version", {"N": "1"})},
                    )
                except client.exceptions.ConditionalCheckFailedException:
                    continue
            else:
                batch.append({"PutRequest": {"Item": new}})
            copied += 1
        if len(batch) >= 500:
            _write(client, target, batch)
            batch = []
    _write(client, target, batch)
    return copied


def clear_index(client: Any, table: str) -> int:
    """Delete what the indexer derives (counters, index state, metadata items), and what is left of
    threads already purged (their steps, user data and run entries, had the indexer failed on the
    purge); the items deleted."""
    raw = list(scan(client, table))
    items = [{"pk": item["pk"], "sk": item["sk"]} for item in raw]
    with_header = {k["pk"]["S"] for k in items if k["sk"]["S"] == keys.THREAD_SK}
    # A run entry whose thread is gone (its thread's purge missed it) is no run any more.
    orphans = {
        item["pk"]["S"]
        for item in raw
        if item["sk"]["S"] == keys.THREAD_SK
        and keys.is_runs_org(item["org_id"]["S"])
        and keys.thread_pk(item["org_id"]["S"].removesuffix(keys.RUNS_ORG_SUFFIX), item["thread_id"]["S"])
        not in with_header
    }
    doomed = [
        {"DeleteRequest": {"Key": key}}
        for key in items
        if key["pk"]["S"].startswith(_DERIVED_PREFIXES)
        or key["sk"]["S"].startswith(_DERIVED_SKS)
        or key["pk"]["S"] in orphans
        or (key["pk"]["S"].startswith(keys.THREAD_PK_PREFIX) and key["pk"]["S"] not in with_header)
    ]
    _write(client, table, doomed)
    return len(doomed)


def index(client: Any, table: str) -> int:
    """Index every thread header as the stream indexer would, first mirroring each thread onto
    its runs' listing entries (a thread from before runs gets the entry of its one run), which
    are then indexed as headers too; the headers indexed anew."""
    runs = RunStore(client, table)
    for item in scan(client, table):
        if item.get("sk", {}).get("S") == keys.THREAD_SK:
            header = deserialize(item)
            if not keys.is_runs_org(header["org_id"]):
                runs.mirror(None, header)
    indexer = ThreadIndexer(client, table)
    applied = 0
    for item in scan(client, table):
        if item.get("sk", {}).get("S") == keys.THREAD_SK:
            header = deserialize(item)
            applied += indexer.apply(header["org_id"], header["id"], header, int(header.get("version", 1)))
    return applied


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m threadline_tools.migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", required=True, help="the threads table to bring up to date (stack output)")
    parser.add_argument("--from-table", help="a previous version's threads table to copy from")
    parser.add_argument("--rebuild", action="store_true", help="delete and rebuild counters and metadata items")
    parser.add_argument("--endpoint-url", help="an AWS endpoint (e.g. the local server's emulation)")
    parser.add_argument("--region", help="AWS region (default: the environment's)")
    args = parser.parse_args(argv)
    client = boto3.client("dynamodb", endpoint_url=args.endpoint_url, region_name=args.region)
    if args.from_table:
        print(f"copied {copy(client, args.from_table, args.table)} items from {args.from_table}", file=sys.stderr)
    if args.rebuild:
        print(f"cleared {clear_index(client, args.table)} derived items", file=sys.stderr)
    print(f"indexed {index(client, args.table)} threads", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
