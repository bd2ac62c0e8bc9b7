"""A thread's runs: the run items (in the thread's partition) and the pointers that find a run's
thread from its id. A run's live status is its thread's (``store.thread_status`` moves it); the
run item keeps what the run was created with, and its final status once another run supersedes
it (``docs/architecture.md``, "Runs")."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from threadline.models.domain import Run
from threadline.store import keys
from threadline.store.items import serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def run_item(run: Run) -> dict[str, Any]:
    """A run as stored (its input as JSON text: any JSON object, never a DynamoDB type question)."""
    item = run.model_dump(exclude={"input"}, exclude_none=True)
    if run.input is not None:
        item["input_json"] = json.dumps(run.input, separators=(",", ":"))
    return {**item, **keys.run_key(run.org_id, run.thread_id, run.seq)}


def run_writes(table: str, run: Run) -> list[TransactWriteItemTypeDef]:
    """The writes that store a new run: its item and its pointer, neither overwriting one."""
    pointer = {**keys.run_pointer_key(run.org_id, run.id), "thread_id": run.thread_id, "seq": run.seq}
    return [
        {"Put": {"TableName": table, "Item": serialize(item), "ConditionExpression": "attribute_not_exists(pk)"}}
        for item in (run_item(run), pointer)
    ]
