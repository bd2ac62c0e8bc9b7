"""A thread's steps: reading them, and the step writes the state machine cannot do itself
(waiting for a human, resolving, closing what an execution left open). The state machine
records ordinary step progress with DynamoDB service integrations. The thread's status moves
with these writes, in the same transaction, through ``store.thread_status``."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from threadline import faults
from threadline.errors import ConflictError, InvalidParameterError
from threadline.models.domain import Step, StepStatus, ThreadStatus
from threadline.models.workflow import PlannedStep, RunRef, ThreadRef
from threadline.store import keys
from threadline.store.items import deserialize, lost_race, query_prefix, serialize, step_from_item
from threadline.store.thread_status import ThreadStatusStore
from threadline.timeutil import backoff, now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

OPEN_STEP_STATUSES = ("running", "waiting")
_ATTEMPTS = 8
# Cancellation reasons of a transaction that only met another one (or throttling): try again.
_CONTENDED = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


class ThreadClosed(Exception):
    """A step's record was refused: its thread was cancelled, deleted or finished, or another run
    is current. Raised out of the agent function, it fails the run (the error's name is the
    exception's, as Lambda reports it)."""


@dataclass(frozen=True)
class StepRecord:
    """How a step finished: its status and what it leaves on its item."""

    status: StepStatus
    artifacts_json: str | None = None
    output_json: str | None = None
    error_json: str | None = None
    resolution: str | None = None

    def attributes(self) -> dict[str, str]:
        fields = ("artifacts_json", "output_json", "error_json", "resolution")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}


class StepStore:
    """Steps of threads, and the status transitions around them."""

    def __init__(self, client: DynamoDBClient, table: str, statuses: ThreadStatusStore) -> None:
        self._db = client
        self._table = table
        self._statuses = statuses

    def step_items(self, org_id: str, thread_id: str) -> list[dict[str, Any]]:
        """Every step item of a thread (raw attributes), of every run, in the order they started."""
        return self._query_steps(org_id, thread_id, keys.STEP_SK_PREFIX)

    def _query_steps(self, org_id: str, thread_id: str, prefix: str) -> list[dict[str, Any]]:
        return query_prefix(self._db, self._table, keys.thread_pk(org_id, thread_id), prefix)

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

    # ----- a run's step, recorded by the agent function (one transaction per record) -----------
    def start(self, thread: ThreadRef, run: RunRef, step: PlannedStep, at: str) -> dict[str, Any] | None:
        """Record ``step`` running from ``at``, only while the thread is active and ``run`` its current
        run (a check that writes nothing on the thread). None when recorded; the step's item when
        it was there already (a replayed start). Raises :class:`ThreadClosed` otherwise."""
        item = {**deserialize(step.item), "started_at": at}
        return self._put_step(
            thread, run, step, item, self._statuses.active_run_check(thread.org_id, thread.id, run.id)
        )

    def start_waiting(self, thread: ThreadRef, run: RunRef, step: PlannedStep, token: str, at: str) -> None:
        """Record ``step`` waiting for a human with the task ``token`` from ``at``, and the thread
        ``interrupted``, in one transaction. A step already waiting takes the new token: a retried
        (or replayed) wait task has a new token and the old one is dead."""
        item = {**deserialize(step.item), "status": "waiting", "task_token": token, "started_at": at}
        move = self._statuses.move_item(thread.org_id, thread.id, "interrupted", at=at, run_id=run.id)
        if self._put_step(thread, run, step, item, move) is not None:
            self.wait_for_human(thread.org_id, thread.id, step, token, run_id=run.id)

    def finish(
        self, thread: ThreadRef, run: RunRef, step: PlannedStep, outcome: StepRecord, at: str
    ) -> dict[str, Any] | None:
        """Record ``step`` finished (``outcome.status``) at ``at`` and touch its thread, in one
        transaction, only while the step is open, the thread active and ``run`` its current run.
        None when recorded; the step's item when it had finished already (a replay). Raises
        :class:`ThreadClosed` when the thread or run is closed."""
        values: dict[str, Any] = {":final": outcome.status, ":now": at, ":running": "running", ":waiting": "waiting"}
        assignments = "#status = :final, completed_at = :now"
        for name, value in outcome.attributes().items():
            values[f":{name}"] = value
            assignments += f", {name} = :{name}"
        update: TransactWriteItemTypeDef = {
            "Update": {
                "TableName": self._table,
                "Key": step.key.model_dump(),
                "UpdateExpression": f"SET {assignments} REMOVE task_token",
                "ConditionExpression": "#status IN (:running, :waiting)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": serialize(values),
            }
        }
        touch = self._statuses.touch_item(thread.org_id, thread.id, run.id, at)
        return self._transact_step(thread, run, step, [update, touch], step_position=0)

    def record_decided(
        self, thread: ThreadRef, run: RunRef, step: PlannedStep, outcome: StepRecord, at: str
    ) -> dict[str, Any] | None:
        """Record an interrupt step already decided (by its run's policy), started and finished at
        ``at``, with its thread's touch: one transaction. None when recorded; the step's item when
        it was there already (a replay)."""
        item = {
            **deserialize(step.item),
            **outcome.attributes(),
            "status": outcome.status,
            "started_at": at,
            "completed_at": at,
        }
        return self._put_step(thread, run, step, item, self._statuses.touch_item(thread.org_id, thread.id, run.id, at))

    def _put_step(
        self, thread: ThreadRef, run: RunRef, step: PlannedStep, item: dict[str, Any], guard: TransactWriteItemTypeDef
    ) -> dict[str, Any] | None:
        if keys.thread_pk(thread.org_id, thread.id) != step.key.pk.S:
            raise ValueError("the planned step is not of this thread")
        put: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self._table,
                "Item": serialize(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        # The step first: the stream (and so the event log) has a step's start before its thread's
        # move to interrupted, as it has a cancel's closed steps before the thread's end.
        return self._transact_step(thread, run, step, [put, guard], step_position=0)

    def _transact_step(
        self,
        thread: ThreadRef,
        run: RunRef,
        step: PlannedStep,
        writes: list[TransactWriteItemTypeDef],
        step_position: int,
    ) -> dict[str, Any] | None:
        """One step record, told apart by the transaction's reasons: the thread's condition refused
        (closed, or another run current) → ThreadClosed; the step's alone → its item as it is."""
        thread_position = 1 - step_position
        for attempt in range(_ATTEMPTS):
            try:
                self._db.transact_write_items(TransactItems=writes)
                return None
            except self._db.exceptions.TransactionCanceledException as error:
                reasons = [r.get("Code", "") for r in error.response.get("CancellationReasons", [])]
                if not _CONTENDED.isdisjoint(reasons):
                    pass  # another transaction held an item: try again
                elif len(reasons) != len(writes):
                    raise
                elif reasons[thread_position] == "ConditionalCheckFailed":
                    raise ThreadClosed(f"thread {thread.id} is no longer running run {run.id}") from error
                elif reasons[step_position] == "ConditionalCheckFailed":
                    return self._item(step)
                else:
                    raise
            except self._db.exceptions.TransactionConflictException:
                pass
            time.sleep(backoff(0.05 * 2**attempt))
        raise RuntimeError(f"step {step.name} of thread {thread.id} stayed contended over {_ATTEMPTS} attempts")

    def _item(self, step: PlannedStep) -> dict[str, Any]:
        reply = self._db.get_item(TableName=self._table, Key=step.key.model_dump(), ConsistentRead=True)
        return deserialize(reply["Item"])

    def run_step_items(self, org_id: str, thread_id: str, run_seq: int) -> list[dict[str, Any]]:
        """The step items of one run of a thread, in plan order."""
        items = self._query_steps(org_id, thread_id, keys.run_steps_prefix(run_seq))
        if run_seq == 0:  # the thread's run from before runs: its keys name no run
            items = [i for i in items if not keys.is_run_step_sk(i["sk"])]
        return items

    def wait_for_human(
        self, org_id: str, thread_id: str, step: PlannedStep, token: str, run_id: str | None = None
    ) -> None:
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
                    self._statuses.move_item(org_id, thread_id, "interrupted", run_id=run_id),
                ]
            )
        except self._db.exceptions.TransactionCanceledException as error:
            # The thread or the step was closed meanwhile.
            if run_id is not None:
                raise ThreadClosed(f"thread {thread_id} is no longer running run {run_id}") from error
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

    def close_open_steps(
        self, org_id: str, thread_id: str, status: str, error: dict[str, str], run_id: str | None = None
    ) -> int:
        """Give every running or waiting step of a thread (of one run, with ``run_id``) a final
        ``status``; how many changed."""
        closed = 0
        for write in self.close_open_step_writes(org_id, thread_id, status, error, now_iso(), run_id=run_id):
            try:
                self._db.update_item(**write["Update"])
                closed += 1
            except self._db.exceptions.ConditionalCheckFailedException:
                pass  # it finished meanwhile
        return closed

    def finish_thread(
        self,
        org_id: str,
        thread_id: str,
        to: ThreadStatus,
        expected_version: int,
        at: str,
        error: dict[str, str],
        unstarted: Sequence[str] = (),
        run_id: str | None = None,
    ) -> int | None:
        """Move an active thread to the final status ``to`` and close its open steps with it, in
        one transaction stamped ``at``, if the thread is still at ``expected_version`` (with
        ``run_id``, that run still current) and none of the current run's ``unstarted`` planned
        steps (sort keys) started meanwhile (a step's start only checks the thread). How many
        steps it closed; None when it lost a race (read again)."""
        closing = self.close_open_step_writes(org_id, thread_id, to, error, at, unstarted=unstarted)
        move = self._statuses.move_item(org_id, thread_id, to, at=at, expected_version=expected_version, run_id=run_id)
        try:
            self._db.transact_write_items(TransactItems=[*closing, move])  # the run's end last (as its events)
        except self._db.exceptions.TransactionCanceledException as failure:
            if lost_race(failure):
                return None
            raise
        return sum(1 for write in closing if "Update" in write)

    def close_open_step_writes(
        self,
        org_id: str,
        thread_id: str,
        status: str,
        error: dict[str, str],
        at: str,
        run_id: str | None = None,
        unstarted: Sequence[str] = (),
    ) -> list[TransactWriteItemTypeDef]:
        """The writes that close each running or waiting step of a thread (of one run, with
        ``run_id``) with ``status`` at ``at`` (each only if it is still open), as items of a
        transaction; with a check that each step of ``unstarted`` (planned sort keys) not there
        yet is still absent, so a step that starts meanwhile fails the transaction."""
        items = self.step_items(org_id, thread_id)
        present = {item["sk"] for item in items}
        pk = keys.thread_pk(org_id, thread_id)
        absent: list[TransactWriteItemTypeDef] = [
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": serialize({"pk": pk, "sk": sk}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for sk in unstarted
            if sk not in present
        ]
        return absent + [
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
            for item in items
            if item.get("status") in OPEN_STEP_STATUSES and run_id in (None, item.get("run_id"))
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
