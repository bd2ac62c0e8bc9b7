"""Thread repository on DynamoDB. Storage errors become domain errors here."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from threadline.errors import InvalidParameterError, NotFoundError
from threadline.models.domain import Requester, Thread
from threadline.models.listing import PageRequest, ThreadFilter, ThreadPage
from threadline.store import keys
from threadline.store.crypto import UserDataCipher
from threadline.store.items import deserialize, serialize, serialize_value, step_from_item
from threadline.store.thread_status import status_assignment
from threadline.timeutil import normalize, now_iso, parse_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


# Index choice when several filters are given: the most selective dimension
# is queried, the others refine it (documented in docs/architecture.md).
_MAX_READ_AHEAD = 1000
_DIMENSION_PRIORITY: tuple[keys.Dimension, ...] = ("context", "project", "type", "status")


class ThreadStore:
    """Reads and writes threads and their steps."""

    def __init__(self, client: DynamoDBClient, table: str, cipher: UserDataCipher, retention_days: int) -> None:
        self._db = client
        self._table = table
        self._cipher = cipher
        self._retention = timedelta(days=retention_days)

    # ----- writes -------------------------------------------------------
    def create(self, thread: Thread, execution_name: str) -> None:
        """Store a new thread (never overwrites one)."""
        item = self._item(thread)
        item["execution_name"] = execution_name
        self._db.put_item(
            TableName=self._table,
            Item=serialize(item),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def soft_delete(self, thread: Thread, expected_version: int) -> bool:
        """Record ``thread``'s deletion (and status) if it is still at ``expected_version``.

        DynamoDB purges the item (TTL ``purge_at``) the retention period after
        ``deleted_at``. Returns False when someone else changed the thread first. The version
        condition is stricter than a status move's: the status it records was
        decided from exactly that version (cancelled if it was active).
        """
        assignment, status_values = status_assignment(thread.org_id, thread.status)
        purge_at = int((parse_time(thread.deleted_at or now_iso()) + self._retention).timestamp())
        try:
            self._db.update_item(
                TableName=self._table,
                Key=serialize(keys.thread_key(thread.org_id, thread.id)),
                UpdateExpression=(
                    "SET deleted = :true, deleted_at = :at, deleted_by = :by, purge_at = :purge,"
                    f" updated_at = :at, {assignment}, version = :version"
                ),
                ConditionExpression="version = :expected AND deleted = :false",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":true": True,
                        ":false": False,
                        ":at": thread.deleted_at,
                        ":by": thread.deleted_by,
                        ":purge": purge_at,
                        ":version": thread.version,
                        ":expected": expected_version,
                        **status_values,
                    }
                ),
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # ----- reads --------------------------------------------------------
    def get(self, org_id: str, thread_id: str, with_steps: bool = True) -> tuple[Thread, str]:
        """A thread with its steps (one Query) or without (one GetItem), and its execution name.

        Raises ``NotFoundError`` when the org has no such thread.
        """
        if with_steps:
            items = self._query_all(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.thread_pk(org_id, thread_id)}},
            )
        else:
            reply = self._db.get_item(
                TableName=self._table, Key=serialize(keys.thread_key(org_id, thread_id)), ConsistentRead=True
            )
            items = [deserialize(reply["Item"])] if "Item" in reply else []
        thread_item = next((i for i in items if i["sk"] == keys.THREAD_SK), None)
        if thread_item is None:
            raise NotFoundError(f"No thread with id {thread_id}", "id")
        thread = self._thread(thread_item)
        thread.steps = [step_from_item(i) for i in items if i["sk"].startswith(keys.STEP_SK_PREFIX)]
        return thread, str(thread_item.get("execution_name", thread_id))

    def list_threads(self, wanted: ThreadFilter, page: PageRequest) -> ThreadPage:
        """A page of threads (without steps) from one index Query."""
        dimension, partition = _choose_index(wanted)
        index = keys.index_name(dimension, page.sort)
        attribute = keys.DIMENSION_ATTRIBUTES[dimension]
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": "#part = :part",
            "ExpressionAttributeNames": {"#part": attribute},
            "ExpressionAttributeValues": {":part": {"S": partition}},
            "ScanIndexForward": not page.descending,
        }
        _add_filters(query, wanted, dimension)
        fingerprint = _fingerprint(query)
        start = (
            _decode_cursor(page.cursor, fingerprint, partition, attribute, page.sort)
            if page.cursor is not None
            else None
        )

        wanted_count = page.offset + page.limit + 1
        collected: list[dict[str, Any]] = []
        evaluated = matched = 0
        while len(collected) < wanted_count:
            missing = wanted_count - len(collected)
            # A FilterExpression drops items after Limit counts them. Ask for what is missing,
            # scaled by the share of items the filter kept so far (with a margin), so a
            # selective filter takes a few round trips and an unselective one reads no extra.
            ahead = math.ceil(missing * 1.25 * evaluated / matched) if matched else missing * (4 if evaluated else 1)
            request = dict(query, Limit=max(missing, min(_MAX_READ_AHEAD, ahead)))
            if start:
                request["ExclusiveStartKey"] = start
            reply = self._db.query(TableName=self._table, **request)
            collected.extend(deserialize(i) for i in reply.get("Items", []))
            evaluated += reply.get("ScannedCount", 0)
            matched += reply.get("Count", 0)
            start = reply.get("LastEvaluatedKey")
            if not start:
                break
        window = collected[page.offset : page.offset + page.limit]
        has_more = len(collected) > page.offset + page.limit
        next_cursor = None
        if has_more and window:
            last = window[-1]
            next_cursor = _encode_cursor({name: last[name] for name in ("pk", "sk", attribute, page.sort)}, fingerprint)
        return ThreadPage(
            threads=[self._thread(i) for i in window],
            has_more=has_more,
            next_cursor=next_cursor,
            total_count=self._count(query) if page.with_total else None,
        )

    # ----- helpers ------------------------------------------------------
    def _count(self, query: dict[str, Any]) -> int:
        total, start = 0, None
        while True:
            request = dict(query, Select="COUNT")
            if start:
                request["ExclusiveStartKey"] = start
            reply = self._db.query(TableName=self._table, **request)
            total += reply["Count"]
            start = reply.get("LastEvaluatedKey")
            if not start:
                return total

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

    def _item(self, thread: Thread) -> dict[str, Any]:
        item = thread.model_dump(exclude={"steps", "user_data"})
        item.update(keys.thread_key(thread.org_id, thread.id))
        item.update(
            keys.ThreadDimensions(
                org_id=thread.org_id,
                status=thread.status,
                type=thread.type,
                context_type=thread.context_type,
                context_id=thread.context_id,
                project_id=thread.project_id,
            ).attributes()
        )
        if thread.user_data is not None:
            item["user_data_enc"] = self._cipher.encrypt(thread.org_id, thread.id, thread.user_data)
        return {k: v for k, v in item.items() if v is not None}

    def _thread(self, item: dict[str, Any]) -> Thread:
        blob = item.get("user_data_enc")
        user_data = self._cipher.decrypt(item["org_id"], item["id"], bytes(blob)) if blob is not None else None
        requester = item.get("requester")
        return Thread(
            id=item["id"],
            type=item["type"],
            status=item["status"],
            org_id=item["org_id"],
            project_id=item["project_id"],
            context_type=item["context_type"],
            context_id=item["context_id"],
            metadata=item.get("metadata"),
            user_data=user_data,
            requester=Requester(**requester) if requester else None,
            created_at=normalize(item["created_at"]),
            updated_at=normalize(item["updated_at"]),
            deleted=bool(item.get("deleted", False)),
            deleted_at=item.get("deleted_at"),
            deleted_by=item.get("deleted_by"),
            version=int(item.get("version", 1)),
        )


def _choose_index(wanted: ThreadFilter) -> tuple[keys.Dimension, str]:
    values: dict[keys.Dimension, tuple[str, ...] | None] = {
        "context": wanted.context,
        "project": (wanted.project_id,) if wanted.project_id is not None else None,
        "type": (wanted.type,) if wanted.type is not None else None,
        "status": (wanted.status,) if wanted.status is not None else None,
    }
    for dimension in _DIMENSION_PRIORITY:
        chosen = values[dimension]
        if chosen is not None:
            return dimension, keys.dimension_partition(dimension, wanted.org_id, *chosen)
    return "org", keys.dimension_partition("org", wanted.org_id)


def _add_filters(query: dict[str, Any], wanted: ThreadFilter, queried: keys.Dimension) -> None:
    """Refine the index Query with the filters its partition does not cover."""
    names: dict[str, str] = query["ExpressionAttributeNames"]
    values: dict[str, Any] = query["ExpressionAttributeValues"]
    clauses: list[str] = []

    def equal(attribute: str, value: Any) -> None:
        n = len(clauses)
        names[f"#f{n}"] = attribute
        values[f":f{n}"] = serialize_value(value)
        clauses.append(f"#f{n} = :f{n}")

    if wanted.context is not None and queried != "context":
        equal("gsi_context", keys.dimension_partition("context", wanted.org_id, *wanted.context))
    if wanted.project_id is not None and queried != "project":
        equal("project_id", wanted.project_id)
    if wanted.type is not None and queried != "type":
        equal("type", wanted.type)
    if wanted.status is not None and queried != "status":
        equal("status", wanted.status)
    if not wanted.include_deleted:
        equal("deleted", False)
    for position, (key, value) in enumerate(sorted(wanted.metadata.items())):
        names[f"#meta{position}"] = key
        n = len(clauses)
        values[f":f{n}"] = serialize_value(value)
        names.setdefault("#metadata", "metadata")
        clauses.append(f"#metadata.#meta{position} = :f{n}")
    if clauses:
        query["FilterExpression"] = " AND ".join(clauses)


def _fingerprint(query: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _encode_cursor(position: dict[str, str], fingerprint: str) -> str:
    raw = json.dumps({"k": position, "q": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, fingerprint: str, partition: str, attribute: str, sort: str) -> dict[str, Any]:
    invalid = InvalidParameterError("cursor is not a next_cursor of this same list", "cursor")
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position, stamp = raw["k"], raw["q"]
    except (ValueError, KeyError, TypeError) as error:
        raise invalid from error
    if (
        stamp != fingerprint
        or not isinstance(position, dict)
        # Exactly the keys _encode_cursor wrote: anything else makes DynamoDB reject the ExclusiveStartKey.
        or set(position) != {"pk", "sk", attribute, sort}
        or position.get(attribute) != partition
        or not all(isinstance(v, str) for v in position.values())
    ):
        raise invalid
    return {name: {"S": value} for name, value in position.items()}
