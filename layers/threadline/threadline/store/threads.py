"""Thread repository on DynamoDB. Storage errors become domain errors here.

A thread is a header item (everything but ``user_data``, on the listing indexes), its
encrypted ``user_data`` in an item of its own (so the header, rewritten at every step, costs
the same whatever the user data's size) and its steps (``store.keys``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from threadline.errors import NotFoundError, UndecryptableError
from threadline.models.domain import Run, Thread
from threadline.models.listing import PageRequest, ThreadFilter, ThreadPage
from threadline.store import keys
from threadline.store.crypto import UserDataCipher
from threadline.store.items import deserialize, lost_race, serialize, step_from_item, thread_from_header
from threadline.store.runs import run_writes
from threadline.store.thread_list import ThreadLister
from threadline.store.thread_status import status_assignment
from threadline.timeutil import now_iso, parse_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_BATCH_GET_KEYS = 100
logger = Logger(service="threadline")


class ThreadStore:
    """Reads and writes threads and their steps."""

    def __init__(
        self, client: DynamoDBClient, table: str, cipher: UserDataCipher, retention_days: int, cursor_secret: bytes
    ) -> None:
        self._db = client
        self._table = table
        self._cipher = cipher
        self._retention = timedelta(days=retention_days)
        self._cursor_secret = cursor_secret

    # ----- writes -------------------------------------------------------
    def create(self, thread: Thread, run: Run | None = None) -> None:
        """Store a new thread (never overwrites one): its header and its user data together, and
        its first run (the header names it current) with the run's pointer."""
        header = self._header(thread)
        header["has_user_data"] = thread.user_data is not None  # so a list reads only the user data there is
        writes: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": serialize(header),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if run is not None:
            writes += run_writes(self._table, run, thread.version)
        if thread.user_data is not None:
            writes.append(self._user_data_write(thread))
        # The token makes the SDK's retry of a write that timed out after committing succeed
        # (DynamoDB answers a repeated token as the first call) instead of failing its condition.
        self._db.transact_write_items(TransactItems=writes, ClientRequestToken=thread.id)

    def soft_delete(self, thread: Thread, expected_version: int, also: Sequence[TransactWriteItemTypeDef] = ()) -> bool:
        """Record ``thread``'s deletion (and status) if it is still at ``expected_version``,
        with the writes ``also`` (its open steps' closing) in the same transaction.

        The header moves to the deleted twin of each listing partition. DynamoDB purges it
        (TTL ``purge_at``) the retention period after ``deleted_at``, and the indexer the rest
        of its partition with it (``store.thread_index``).
        Returns False when someone else changed the thread first. The version condition is
        stricter than a status move's: the status it records was decided from exactly that
        version (cancelled if it was active).
        """
        assignment, status_values = status_assignment(thread.org_id, thread.status, deleted=True)
        purge_at = int((parse_time(thread.deleted_at or now_iso()) + self._retention).timestamp())
        partitions = keys.ThreadDimensions.of(thread.model_dump(), deleted=True).attributes()
        partitions.pop(keys.DIMENSION_ATTRIBUTES["status"])  # the status assignment sets it
        names = {f"#d{i}": name for i, name in enumerate(partitions)}
        values = {f":d{i}": value for i, value in enumerate(partitions.values())}
        moves = ", ".join(f"#d{i} = :d{i}" for i in range(len(partitions)))
        header: Any = {  # the header alone is rewritten, whatever the size of the user data
            "TableName": self._table,
            "Key": serialize(keys.thread_key(thread.org_id, thread.id)),
            "UpdateExpression": (
                "SET deleted = :true, deleted_at = :at, deleted_by = :by, purge_at = :purge,"
                f" updated_at = :at, {assignment}, {moves}, version = :version"
                + (", ended_at = :ended" if thread.ended_at is not None else "")
            ),
            "ConditionExpression": "version = :expected AND deleted = :false",
            "ExpressionAttributeNames": {"#status": "status", **names},
            "ExpressionAttributeValues": serialize(
                {
                    ":true": True,
                    ":false": False,
                    ":at": thread.deleted_at,
                    ":by": thread.deleted_by,
                    ":purge": purge_at,
                    ":version": thread.version,
                    **({":ended": thread.ended_at} if thread.ended_at is not None else {}),
                    ":expected": expected_version,
                    **status_values,
                    **values,
                }
            ),
        }
        if also:
            return self._transact([{"Update": header}, *also])
        try:
            self._db.update_item(**header)
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def update(self, thread: Thread, expected_version: int, user_data_changed: bool) -> bool:
        """Record ``thread``'s metadata (and its user data, when changed) if it is still live at
        ``expected_version``: the header and the user data item in one transaction. Returns
        False when someone else changed (or deleted) the thread first."""
        names = {"#metadata": "metadata"}
        values: dict[str, Any] = {
            ":at": thread.updated_at,
            ":version": thread.version,
            ":expected": expected_version,
            ":false": False,
        }
        sets = ["updated_at = :at", "version = :version"]
        if user_data_changed:
            sets.append("has_user_data = :has")
            values[":has"] = thread.user_data is not None
        if thread.metadata is None:
            expression = f"SET {', '.join(sets)} REMOVE #metadata"
        else:
            expression = f"SET #metadata = :metadata, {', '.join(sets)}"
            values[":metadata"] = thread.metadata
        writes: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": serialize(keys.thread_key(thread.org_id, thread.id)),
                    "UpdateExpression": expression,
                    "ConditionExpression": "version = :expected AND deleted = :false",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": serialize(values),
                }
            }
        ]
        if not user_data_changed:  # one item: a conditional update, which no transaction can conflict with
            try:
                self._db.update_item(**writes[0]["Update"])
            except self._db.exceptions.ConditionalCheckFailedException:
                return False
            return True
        writes.append(self._user_data_write(thread))
        return self._transact(writes)

    def restore(self, thread: Thread, expected_version: int) -> bool:
        """Undo ``thread``'s deletion if it is still deleted at ``expected_version`` and not yet
        due for purge (its stored ``purge_at``): the header moves back to the live twin of each listing partition and
        loses its purge time. Returns False otherwise."""
        assignment, status_values = status_assignment(thread.org_id, thread.status)
        partitions = keys.ThreadDimensions.of(thread.model_dump(), deleted=False).attributes()
        partitions.pop(keys.DIMENSION_ATTRIBUTES["status"])  # the status assignment sets it
        names = {f"#d{i}": name for i, name in enumerate(partitions)}
        values = {f":d{i}": value for i, value in enumerate(partitions.values())}
        moves = ", ".join(f"#d{i} = :d{i}" for i in range(len(partitions)))
        try:
            self._db.update_item(
                TableName=self._table,
                Key=serialize(keys.thread_key(thread.org_id, thread.id)),
                UpdateExpression=(
                    f"SET deleted = :false, updated_at = :at, {assignment}, {moves}, version = :version"
                    " REMOVE deleted_at, deleted_by, purge_at"
                ),
                ConditionExpression=(
                    "version = :expected AND deleted = :true AND (attribute_not_exists(purge_at) OR purge_at > :now)"
                ),
                ExpressionAttributeNames={"#status": "status", **names},
                ExpressionAttributeValues=serialize(
                    {
                        ":true": True,
                        ":false": False,
                        ":at": thread.updated_at,
                        ":now": int(parse_time(thread.updated_at).timestamp()),
                        ":version": thread.version,
                        ":expected": expected_version,
                        **status_values,
                        **values,
                    }
                ),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # ----- reads --------------------------------------------------------
    def get(
        self, org_id: str, thread_id: str, with_steps: bool = True, strict: bool = True, with_user_data: bool = True
    ) -> tuple[Thread, str]:
        """A thread with its steps or without, and its execution name: one Query either way
        (steps, header and user data sort together after the index items).

        Raises ``NotFoundError`` when the org has no such thread. User data that cannot be
        decrypted raises ``UndecryptableError`` (logged with the thread's id); not ``strict``,
        the thread comes without it (a change, cancel or delete need not read it), with
        ``user_data_unreadable`` set. Without ``with_user_data``, it comes without its user data,
        which is not decrypted (no KMS call).
        """
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND sk >= :from",
            ExpressionAttributeValues={
                ":pk": {"S": keys.thread_pk(org_id, thread_id)},
                ":from": {"S": keys.STEP_SK_PREFIX if with_steps else keys.THREAD_SK},
            },
        )
        by_sk = {item["sk"]: item for item in items}
        header = by_sk.get(keys.THREAD_SK)
        if header is None:
            raise NotFoundError(f"No thread with id {thread_id}", "id")
        try:
            thread = self._thread(header, by_sk.get(keys.USER_DATA_SK) if with_user_data else None)
        except UndecryptableError:
            logger.error("user_data cannot be decrypted", extra={"thread_id": thread_id})
            if strict:
                raise
            thread = self._thread(header, None).model_copy(update={"user_data_unreadable": True})
        thread.steps = [step_from_item(i) for i in items if i["sk"].startswith(keys.STEP_SK_PREFIX)]
        return thread, thread.run_id or thread_id

    def list_threads(self, wanted: ThreadFilter, page: PageRequest) -> ThreadPage:
        """A page of threads (without steps): see ``store.thread_list``."""
        return ThreadLister(self._db, self._table, self.fetch, self._cursor_secret).page(wanted, page)

    def fetch(self, pks: list[str], with_user_data: bool) -> dict[str, Thread]:
        """Threads by partition (headers, then the user data of those that have some, if asked),
        in batched reads of just these keys."""
        items = self._batch_get([keys.thread_key_of(pk) for pk in dict.fromkeys(pks)])
        if with_user_data:
            # (a header without the flag is asked for its user data all the same)
            items.update(
                self._batch_get(
                    [
                        {"pk": pk, "sk": keys.USER_DATA_SK}
                        for (pk, sk), header in items.items()
                        if sk == keys.THREAD_SK and header.get("has_user_data", True)
                    ]
                )
            )
        return {
            pk: self._listed_thread(header, items.get((pk, keys.USER_DATA_SK)))
            for pk in dict.fromkeys(pks)
            if (header := items.get((pk, keys.THREAD_SK))) is not None
        }

    def _listed_thread(self, header: dict[str, Any], user_data_item: dict[str, Any] | None) -> Thread:
        """A listed thread; one whose user data cannot be decrypted is listed without it (and
        logged), so it never takes a page down with it. Its own GET names the problem."""
        try:
            return self._thread(header, user_data_item)
        except UndecryptableError:
            logger.error("user_data cannot be decrypted; listed without it", extra={"thread_id": header["id"]})
            return self._thread(header, None).model_copy(update={"user_data_unreadable": True})

    # ----- helpers ------------------------------------------------------
    def _user_data_write(self, thread: Thread) -> TransactWriteItemTypeDef:
        """The write that gives the thread its user data: its encrypted item, or none."""
        key = keys.user_data_key(thread.org_id, thread.id)
        if thread.user_data is None:
            return {"Delete": {"TableName": self._table, "Key": serialize(key)}}
        item = {**key, "user_data_enc": self._cipher.encrypt(thread.org_id, thread.id, thread.user_data)}
        return {"Put": {"TableName": self._table, "Item": serialize(item)}}

    def _transact(self, writes: list[TransactWriteItemTypeDef]) -> bool:
        """Write all or nothing; False when a condition failed or another transaction held an
        item (the caller reads again and retries), else the error."""
        try:
            self._db.transact_write_items(TransactItems=writes)
        except self._db.exceptions.TransactionCanceledException as error:
            if lost_race(error):
                return False
            raise
        return True

    def _batch_get(self, wanted: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(wanted), _BATCH_GET_KEYS):
            pending: dict[str, Any] = {
                self._table: {"Keys": [serialize(k) for k in wanted[start : start + _BATCH_GET_KEYS]]}
            }
            while pending:
                reply = self._db.batch_get_item(RequestItems=pending)
                for raw in reply.get("Responses", {}).get(self._table, []):
                    item = deserialize(raw)
                    items[(item["pk"], item["sk"])] = item
                pending = reply.get("UnprocessedKeys") or {}
        return items

    def _query_all(self, **query: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start = None
        while True:
            if start:
                query["ExclusiveStartKey"] = start
            reply = self._db.query(TableName=self._table, ConsistentRead=True, **query)
            items.extend(deserialize(i) for i in reply.get("Items", []))
            start = reply.get("LastEvaluatedKey")
            if not start:
                return items

    def _header(self, thread: Thread) -> dict[str, Any]:
        item = thread.model_dump(exclude={"steps", "user_data", "run_id"})
        item["execution_name"] = thread.run_id or thread.id  # the current run's execution
        item.update(keys.thread_key(thread.org_id, thread.id))
        item.update(keys.ThreadDimensions.of(item).attributes())
        return {k: v for k, v in item.items() if v is not None}

    def _thread(self, item: dict[str, Any], user_data_item: dict[str, Any] | None) -> Thread:
        blob = user_data_item.get("user_data_enc") if user_data_item else None
        user_data = self._cipher.decrypt(item["org_id"], item["id"], bytes(blob)) if blob is not None else None
        return thread_from_header(item).model_copy(update={"user_data": user_data})
