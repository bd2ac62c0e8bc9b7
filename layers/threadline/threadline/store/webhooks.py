"""Webhook endpoints and their delivery log (``store.keys``, "webhooks"), the events a delivery
sends (read from the event log by key or by id), and the queue of deliveries.

An endpoint's signing secret is stored sealed by the ``user_data`` envelope encryption
(``store.crypto``), bound to its org and endpoint, and opened only to sign a delivery.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

from threadline.errors import InvalidParameterError
from threadline.models.webhooks import DeliveryAttempt, DeliveryTask, WebhookEndpoint
from threadline.store import keys
from threadline.store.items import deserialize, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

    from threadline.store.crypto import UserDataCipher

_DAY = 86_400
_ENDPOINT_FIELDS = tuple(WebhookEndpoint.model_fields)
_ATTEMPT_FIELDS = tuple(DeliveryAttempt.model_fields)
MAX_QUEUE_DELAY_SECONDS = 900  # SQS's longest DelaySeconds


def _secret_context(endpoint_id: str) -> str:
    # The "thread" the cipher binds a blob to: an endpoint's, never a thread's (those are UUIDs).
    return f"webhook_endpoint/{endpoint_id}"


class WebhookStore:
    """An org's webhook endpoints (with their sealed secrets) and their delivery logs."""

    def __init__(
        self, client: DynamoDBClient, table: str, cipher: UserDataCipher, log_retention_days: int = 30
    ) -> None:
        self._db = client
        self._table = table
        self._cipher = cipher
        self._retention = log_retention_days * _DAY

    def create(self, endpoint: WebhookEndpoint, secret: str) -> None:
        """Store a new endpoint and its secret, sealed."""
        sealed = self._cipher.encrypt(endpoint.org_id, _secret_context(endpoint.id), secret)
        item = {
            **keys.webhook_endpoint_key(endpoint.org_id, endpoint.id),
            **endpoint.model_dump(mode="json"),
            "secret_sealed": sealed,
        }
        self._db.put_item(TableName=self._table, Item=serialize(item), ConditionExpression="attribute_not_exists(pk)")

    def endpoints(self, org_id: str) -> list[WebhookEndpoint]:
        """Every endpoint of an org, oldest first (an org has a few: one Query)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": serialize(
                {":pk": keys.webhook_endpoints_pk(org_id), ":prefix": keys.WEBHOOK_ENDPOINT_SK_PREFIX}
            ),
            "ProjectionExpression": ", ".join(f"#{name}" for name in _ENDPOINT_FIELDS),
            "ExpressionAttributeNames": {f"#{name}": name for name in _ENDPOINT_FIELDS},
        }
        found: list[WebhookEndpoint] = []
        while True:
            reply = self._db.query(**request)
            found += [_endpoint(deserialize(item)) for item in reply.get("Items", [])]
            if "LastEvaluatedKey" not in reply:
                return sorted(found, key=lambda endpoint: (endpoint.created_at, endpoint.id))
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def get(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        """One endpoint of an org; None when absent (or another org's)."""
        found = self._get(org_id, endpoint_id)
        return None if found is None else _endpoint(found)

    def get_with_secret(self, org_id: str, endpoint_id: str) -> tuple[WebhookEndpoint, str] | None:
        """One endpoint of an org and its secret, opened (to sign a delivery, and nothing else)."""
        found = self._get(org_id, endpoint_id)
        if found is None:
            return None
        secret = self._cipher.decrypt(org_id, _secret_context(endpoint_id), bytes(found["secret_sealed"]))
        return _endpoint(found), secret

    def delete(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        """Delete an endpoint (its log stays until it expires); the endpoint as it was, or None."""
        reply = self._db.delete_item(
            TableName=self._table,
            Key=serialize(keys.webhook_endpoint_key(org_id, endpoint_id)),
            ReturnValues="ALL_OLD",
        )
        old = reply.get("Attributes")
        return None if not old else _endpoint(deserialize(old))

    def log(self, org_id: str, attempt: DeliveryAttempt) -> None:
        """Record one delivery attempt in its endpoint's log (kept for the retention window)."""
        item = {
            **keys.webhook_attempt_key(org_id, attempt.endpoint_id, attempt.attempted_at, attempt.id),
            **attempt.model_dump(mode="json"),
            "expires_at": int(time.time()) + self._retention,
        }
        self._db.put_item(TableName=self._table, Item=serialize(item))

    def attempts(
        self, org_id: str, endpoint_id: str, limit: int, cursor: str | None = None
    ) -> tuple[list[DeliveryAttempt], str | None]:
        """Up to ``limit`` logged attempts of one endpoint, newest first, after ``cursor``; and the
        cursor of the next page (None at the end). A cursor names a place in this log alone: the
        partition comes from the caller's org and endpoint, never from it."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": serialize({":pk": keys.webhook_deliveries_pk(org_id, endpoint_id)}),
            "ScanIndexForward": False,
        }
        if cursor is not None:
            request["KeyConditionExpression"] += " AND sk < :before"
            request["ExpressionAttributeValues"].update(serialize({":before": _decode_cursor(cursor)}))
        found: list[dict[str, Any]] = []
        while len(found) <= limit:
            reply = self._db.query(**request, Limit=limit + 1 - len(found))
            found += [deserialize(item) for item in reply.get("Items", [])]
            if "LastEvaluatedKey" not in reply:
                break
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        page = found[:limit]
        following = _encode_cursor(page[-1]["sk"]) if len(found) > limit else None
        return [DeliveryAttempt.model_validate({k: item[k] for k in _ATTEMPT_FIELDS}) for item in page], following

    def _get(self, org_id: str, endpoint_id: str) -> dict[str, Any] | None:
        if "#" in endpoint_id:
            return None
        reply = self._db.get_item(
            TableName=self._table, Key=serialize(keys.webhook_endpoint_key(org_id, endpoint_id)), ConsistentRead=True
        )
        item = reply.get("Item")
        return None if item is None else deserialize(item)


def _endpoint(item: dict[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate({name: item.get(name) for name in _ENDPOINT_FIELDS})


def _encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        sk = ""
    if not sk or "#" not in sk:
        raise InvalidParameterError("cursor is not a cursor of this list", "cursor")
    return sk


class DeliveryQueue:
    """The queue of webhook deliveries: one message per (event, endpoint)."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def send(self, task: DeliveryTask, delay_seconds: int = 0) -> None:
        """Queue one delivery, visible after ``delay_seconds`` (at most the queue's 15 minutes)."""
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=task.model_dump_json(),
            DelaySeconds=max(0, min(delay_seconds, MAX_QUEUE_DELAY_SECONDS)),
        )

    def send_all(self, tasks: list[DeliveryTask]) -> None:
        """Queue deliveries at once, ten to a request; raises if any was not queued (a retry of
        the whole may queue some twice: deliveries are at least once)."""
        for start in range(0, len(tasks), 10):
            batch = tasks[start : start + 10]
            reply = self._sqs.send_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(n), "MessageBody": task.model_dump_json()} for n, task in enumerate(batch)],
            )
            if reply.get("Failed"):
                raise RuntimeError(f"{len(reply['Failed'])} webhook deliveries could not be queued")


def task_of(body: str) -> DeliveryTask:
    """A queued delivery from its message body."""
    return DeliveryTask.model_validate(json.loads(body))
