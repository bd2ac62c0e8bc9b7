"""A stored change of a thread header, applied to its metadata items and counters."""

from __future__ import annotations

from typing import Any

from threadline.store import keys
from threadline.store.items import deserialize
from threadline.store.runs import RunStore
from threadline.store.thread_index import ThreadIndexer


def index_change(record: dict[str, Any], indexer: ThreadIndexer, runs: RunStore | None = None) -> bool:
    """Apply one DynamoDB stream record (Lambda's shape, new and old images) of the threads
    table. Records of other items are not the indexer's: True when something was applied.

    With ``runs``, a thread's change is mirrored onto its run entries (``RunStore.mirror``),
    whose own changes come back here and are indexed as the headers of the org's runs."""
    change = record.get("dynamodb") or {}
    if (change.get("Keys") or {}).get("sk", {}).get("S") != keys.THREAD_SK:
        return False
    new = deserialize(change["NewImage"]) if change.get("NewImage") else None
    old = deserialize(change["OldImage"]) if change.get("OldImage") else None
    header = new or old
    if header is None:  # a stream without images: the template asks for NEW_AND_OLD_IMAGES
        raise ValueError("a thread change without its images")
    # A purge (TTL) is the header's last change: one version after its last write.
    version = int(new["version"]) if new is not None else int(header.get("version", 1)) + 1
    applied = indexer.apply(header["org_id"], header["id"], new, version)
    if runs is not None and new is not None and not keys.is_runs_org(header["org_id"]):
        runs.mirror(old, new)
    return applied
