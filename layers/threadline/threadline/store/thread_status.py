"""A thread's status, changed in one place: every move (a step waiting or resumed, cancel,
delete, reconcile, a workflow that could not start) is written here, under the one table of
moves a status may make, so a finished thread never comes back to life.

The state machine's own thread writes (``TouchThread*`` in the ASL) carry the same condition,
``status IN (running, interrupted)``; a test holds the two together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadline.models.domain import ACTIVE_STATUSES, ThreadStatus
from threadline.store import keys
from threadline.store.items import serialize
from threadline.timeutil import now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_ACTIVE: tuple[ThreadStatus, ...] = tuple(sorted(ACTIVE_STATUSES))

# Target status ← the statuses it may be reached from. Final statuses are never left.
ALLOWED_FROM: dict[ThreadStatus, tuple[ThreadStatus, ...]] = {
    "interrupted": ("running", "interrupted"),  # a step waits for a human (a retried wait again)
    "running": ("interrupted", "running"),  # a decision resumed it
    "completed": _ACTIVE,
    "failed": _ACTIVE,
    "cancelled": _ACTIVE,
}


def status_assignment(org_id: str, status: ThreadStatus, deleted: bool = False) -> tuple[str, dict[str, Any]]:
    """The ``SET`` clauses (without ``SET``) and values that give a thread ``status``: the
    attribute and its listing partition change together. ``#status`` names ``status``.
    Only live threads move (a deleted thread's status is final), except as they are deleted."""
    return "#status = :status, gsi_status = :status_partition", {
        ":status": status,
        ":status_partition": keys.dimension_partition("status", org_id, status, deleted=deleted),
    }


class ThreadStatusStore:
    """Moves threads between statuses, never out of a final one."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def move(self, org_id: str, thread_id: str, to: ThreadStatus) -> bool:
        """Give the thread status ``to`` if it may move there now; False when it may not
        (finished, or already elsewhere)."""
        try:
            self._db.update_item(**self.move_item(org_id, thread_id, to)["Update"])
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def move_item(
        self, org_id: str, thread_id: str, to: ThreadStatus, at: str | None = None, expected_version: int | None = None
    ) -> TransactWriteItemTypeDef:
        """The same move as one item of a transaction (with a step's own write), stamped ``at``
        (now by default); with ``expected_version``, only from that version of the thread."""
        allowed = ALLOWED_FROM[to]
        names = [f":from{i}" for i in range(len(allowed))]
        assignment, values = status_assignment(org_id, to)
        values.update(zip(names, allowed, strict=True))
        values.update({":now": at or now_iso(), ":one": 1})
        condition = f"#status IN ({', '.join(names)})"
        if expected_version is not None:
            condition += " AND version = :expected"
            values[":expected"] = expected_version
        return {
            "Update": {
                "TableName": self._table,
                "Key": serialize(keys.thread_key(org_id, thread_id)),
                "UpdateExpression": f"SET {assignment}, updated_at = :now ADD version :one",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": serialize(values),
            }
        }
