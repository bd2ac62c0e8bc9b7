"""A thread's status, changed in one place: every move (a step waiting or resumed, cancel,
delete, reconcile, a workflow that could not start) is written here, under the one table of
moves a status may make, so a finished run never comes back to life.

The state machine's own thread writes (``RecordDecision``, ``RecordRun*`` in the ASL) carry
the same condition, ``status IN (running, interrupted)``, with the run still current
(``ACTIVE_RUN_CONDITION``); a test holds the two together. A thread leaves a final status only
by starting its next run (``store.runs.RunStore.start``): a run's own status never goes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadline.models.domain import ACTIVE_STATUSES, ThreadStatus
from threadline.store import keys
from threadline.store.items import deserialize, serialize
from threadline.timeutil import now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_ACTIVE: tuple[ThreadStatus, ...] = tuple(sorted(ACTIVE_STATUSES))
FINAL_STATUSES: frozenset[ThreadStatus] = frozenset({"completed", "failed", "cancelled"})

# Target status ← the statuses it may be reached from. Final statuses are never left.
ALLOWED_FROM: dict[ThreadStatus, tuple[ThreadStatus, ...]] = {
    "interrupted": ("running", "interrupted"),  # a step waits for a human (a retried wait again)
    "running": ("interrupted", "running"),  # a decision resumed it
    "completed": _ACTIVE,
    "failed": _ACTIVE,
    "cancelled": _ACTIVE,
}


# The thread is active and the run is its current one (``execution_name`` names the current run's
# execution): what every write of a run's workflow is conditioned on, here and in the ASL.
ACTIVE_RUN_CONDITION = "#status IN (:running, :interrupted) AND execution_name = :run"


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

    def header(self, org_id: str, thread_id: str) -> dict[str, Any] | None:
        """A thread's header as stored now (a strongly consistent read), or None."""
        reply = self._db.get_item(
            TableName=self._table, Key=serialize(keys.thread_key(org_id, thread_id)), ConsistentRead=True
        )
        return deserialize(reply["Item"]) if "Item" in reply else None

    def move(self, org_id: str, thread_id: str, to: ThreadStatus, run_id: str | None = None) -> bool:
        """Give the thread status ``to`` if it may move there now (with ``run_id``, only while that
        run is its current one); False when it may not (finished, or already elsewhere)."""
        try:
            self._db.update_item(**self.move_item(org_id, thread_id, to, run_id=run_id)["Update"])
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def move_item(
        self,
        org_id: str,
        thread_id: str,
        to: ThreadStatus,
        at: str | None = None,
        expected_version: int | None = None,
        run_id: str | None = None,
    ) -> TransactWriteItemTypeDef:
        """The same move as one item of a transaction (with a step's own write), stamped ``at``
        (now by default); with ``expected_version``, only from that version of the thread; with
        ``run_id``, only while that run is the thread's current one."""
        allowed = ALLOWED_FROM[to]
        names = [f":from{i}" for i in range(len(allowed))]
        assignment, values = status_assignment(org_id, to)
        values.update(zip(names, allowed, strict=True))
        values.update({":now": at or now_iso(), ":one": 1})
        condition = f"#status IN ({', '.join(names)})"
        if expected_version is not None:
            condition += " AND version = :expected"
            values[":expected"] = expected_version
        if run_id is not None:
            condition += " AND execution_name = :run"
            values[":run"] = run_id
        if to in FINAL_STATUSES:
            assignment += ", ended_at = :now"
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

    def touch_item(self, org_id: str, thread_id: str, run_id: str, at: str) -> TransactWriteItemTypeDef:
        """A step of the run ``run_id`` changed: so does its thread (``updated_at``, ``version``),
        only while the thread is active and that run is its current one."""
        values = {":running": "running", ":interrupted": "interrupted", ":run": run_id, ":now": at, ":one": 1}
        return {
            "Update": {
                "TableName": self._table,
                "Key": serialize(keys.thread_key(org_id, thread_id)),
                "UpdateExpression": "SET updated_at = :now ADD version :one",
                "ConditionExpression": ACTIVE_RUN_CONDITION,
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": serialize(values),
            }
        }

    def active_run_check(self, org_id: str, thread_id: str, run_id: str) -> TransactWriteItemTypeDef:
        """A transaction's check, writing nothing, that the thread is active and ``run_id`` its current run."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": serialize(keys.thread_key(org_id, thread_id)),
                "ConditionExpression": ACTIVE_RUN_CONDITION,
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": serialize(
                    {":running": "running", ":interrupted": "interrupted", ":run": run_id}
                ),
            }
        }
