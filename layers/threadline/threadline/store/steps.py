"""A thread's steps: reading them, and the step writes the state machine cannot do itself
(waiting for a human, resolving, closing what an execution left open). The state machine
records ordinary step progress with DynamoDB service integrations. The thread's status moves
with these writes, in the same transaction, through ``store.thread_status``."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from threadline import faults
from threadline.errors import ConflictError, InvalidParameterError
from threadline.models.domain import Step, ThreadStatus
from threadline.models.workflow import PlannedStep
from threadline.store import keys
from threadline.store.items import deserialize, serialize, step_from_item
from threadline.store.thread_status import ThreadStatusStore
from threadline.store.threads import lost_race
from threadline.timeutil import now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

OPEN_STEP_STATUSES = ("running", "waiting")


class StepStore:
    """Steps of threads, and the status transitions around them."""

    def __init__(self, client: DynamoDBClient, table: str, statuses: ThreadStatusStore) -> None:
        self._db = client
        self._table = table
        self._statuses = statuses

    def step_items(self, org_id: str, thread_id: str) -> list[dict[str, Any]]:
        """Every step item of a thread (raw attributes), in plan order."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :steps)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.thread_pk(org_id, thread_id)},
                ":steps": {"S": keys.STEP_SK_PREFIX},
            },
            "ConsistentRead": True,
        }
        while True:
            reply = self._db.query(**request)
            items.extend(deserialize(i) for i in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply:
                return items
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def steps(self, org_id: str, thread_id: str) -> list[Step]:
        """Every step of a thread, in plan order."""
        return [step_from_item(item) for item in self.step_items(org_id, thread_id)]

    def page(self, org_id: str, thread_id: str, limit: int, cursor: str | None) -> tuple[list[Step], str | None]:
        """One page of a thread's steps and the cursor of the next one."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :steps)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.thread_pk(org_id, thread_id)},
                ":steps": {"S": keys.STEP_SK_PREFIX},
            },
            # One more than asked: DynamoDB returns a LastEvaluatedKey when a page ends exactly
            # at the last step, which would promise a next page that is empty.
            "Limit": limit + 1,
        }
        if cursor is not None:
            request["ExclusiveStartKey"] = {
                "pk": {"S": keys.thread_pk(org_id, thread_id)},
                "sk": {"S": _decode_step_cursor(cursor)},
            }
        reply = self._db.query(**request)
        items = [deserialize(i) for i in reply.get("Items", [])]
        page = items[:limit]
        more = len(items) > limit or "LastEvaluatedKey" in reply  # (the latter: the 1 MB cap cut the page)
        steps = [step_from_item(item) for item in page]
        return steps, (_encode_step_cursor(page[-1]["sk"]) if more and page else None)

    def wait_for_human(self, org_id: str, thread_id: str, step: PlannedStep, token: str) -> None:
        """Mark a running step ``waiting`` with its task token, and the thread ``interrupted``.

        A step already waiting takes the new token: a retried (or replayed) wait task
        has a new token and the old one is dead, so refusing it would fail the step.
        """
        if keys.thread_pk(org_id, thread_id) != step.key.pk.S:
            raise ValueError("the planned step is not of this thread")
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": step.key.model_dump(),
                            "UpdateExpression": "SET #status = :waiting, task_token = :token",
                            "ConditionExpression": "#status IN (:running, :waiting)",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": serialize(
                                {":waiting": "waiting", ":running": "running", ":token": token}
                            ),
                        }
                    },
                    self._statuses.move_item(org_id, thread_id, "interrupted"),
                ]
            )
        except self._db.exceptions.TransactionCanceledException as error:
            # The thread or the step was closed meanwhile.
            raise ConflictError("The step or its thread is no longer running") from error

    def claim_waiting_step(self, org_id: str, thread_id: str, step_id: str) -> tuple[Step, str]:
        """Take a waiting step's task token (once) and set its thread running again.

        Raises ``ConflictError`` when the step is not waiting (unknown, finished,
        or already resolved).
        """
        item = next((i for i in self.step_items(org_id, thread_id) if i.get("id") == step_id), None)
        if item is None or item.get("status") != "waiting" or not item.get("task_token"):
            raise ConflictError(f"Step {step_id} of this thread is not waiting for a decision", "step_id")
        token = str(item["task_token"])
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
                            "UpdateExpression": "REMOVE task_token",
                            "ConditionExpression": "task_token = :token",
                            "ExpressionAttributeValues": {":token": {"S": token}},
                        }
                    },
                    self._statuses.move_item(org_id, thread_id, "running"),
                ]
            )
        except self._db.exceptions.TransactionCanceledException as error:
            if faults.unavailable(error) is not None:
                raise  # a concurrent transaction or throttling, not a refusal: the step may still wait
            raise ConflictError(f"Step {step_id} of this thread is not waiting for a decision", "step_id") from error
        return step_from_item(item), token

    def release_claim(self, org_id: str, thread_id: str, step_id: str, token: str) -> bool:
        """Undo :meth:`claim_waiting_step` when the decision could not be sent: the step takes its
        token back and the thread is ``interrupted`` again, so the decision can be sent again.
        False when the step no longer waits (the workflow moved on, or the thread was closed)."""
        item = next((i for i in self.step_items(org_id, thread_id) if i.get("id") == step_id), None)
        if item is None:
            return False
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
                            "UpdateExpression": "SET task_token = :token",
                            "ConditionExpression": "#status = :waiting AND attribute_not_exists(task_token)",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": serialize({":token": token, ":waiting": "waiting"}),
                        }
                    },
                    self._statuses.move_item(org_id, thread_id, "interrupted"),
                ]
            )
        except self._db.exceptions.TransactionCanceledException:
            return False
        return True

    def close_open_steps(self, org_id: str, thread_id: str, status: str, error: dict[str, str]) -> int:
        """Give every running or waiting step of a thread a final ``status``; how many changed."""
        closed = 0
        for write in self.close_open_step_writes(org_id, thread_id, status, error, now_iso()):
            try:
                self._db.update_item(**write["Update"])
                closed += 1
            except self._db.exceptions.ConditionalCheckFailedException:
                pass  # it finished meanwhile
        return closed

    def finish_thread(
        self, org_id: str, thread_id: str, to: ThreadStatus, expected_version: int, at: str, error: dict[str, str]
    ) -> bool:
        """Move an active thread to the final status ``to`` and close its open steps with it, in
        one transaction stamped ``at``, if the thread is still at ``expected_version`` (every
        step write moves the version on, so no step can open meanwhile). False otherwise."""
        writes = [
            self._statuses.move_item(org_id, thread_id, to, at=at, expected_version=expected_version),
            *self.close_open_step_writes(org_id, thread_id, to, error, at),
        ]
        try:
            self._db.transact_write_items(TransactItems=writes)
        except self._db.exceptions.TransactionCanceledException as failure:
            if lost_race(failure):
                return False
            raise
        return True

    def close_open_step_writes(
        self, org_id: str, thread_id: str, status: str, error: dict[str, str], at: str
    ) -> list[TransactWriteItemTypeDef]:
        """The writes that close each running or waiting step of a thread with ``status`` at ``at``
        (each only if it is still open), as items of a transaction."""
        return [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
                    "UpdateExpression": (
                        "SET #status = :final, completed_at = :now, error_json = :error REMOVE task_token"
                    ),
                    "ConditionExpression": "#status IN (:running, :waiting)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": serialize(
                        {
                            ":final": status,
                            ":now": at,
                            ":error": json.dumps(error),
                            ":running": "running",
                            ":waiting": "waiting",
                        }
                    ),
                }
            }
            for item in self.step_items(org_id, thread_id)
            if item.get("status") in OPEN_STEP_STATUSES
        ]


def _encode_step_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=")


def _decode_step_cursor(cursor: str) -> str:
    try:
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidParameterError("cursor is not a next_cursor of this thread's steps", "cursor") from error
    if not sk.startswith(keys.STEP_SK_PREFIX) or len(sk) > 256:
        raise InvalidParameterError("cursor is not a next_cursor of this thread's steps", "cursor")
    return sk
