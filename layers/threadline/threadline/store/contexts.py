"""Context repository on DynamoDB (threads table, ``store.keys.context_key``).

The document is stored as one JSON string attribute, not as a DynamoDB map: any
JSON object round-trips exactly (no float/Decimal conversion, no 38-digit number
limit, no empty-set or nesting-depth pitfalls), and a document is only ever read
whole.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from threadline.models.contexts import Context
from threadline.store import keys

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ContextStore:
    """Reads and writes context documents."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def get(self, org_id: str, context_type: str, context_id: str) -> Context | None:
        """The org's context, or None. Strongly consistent: a context just PUT is found."""
        reply = self._db.get_item(
            TableName=self._table,
            Key=_key(org_id, context_type, context_id),
            ConsistentRead=True,
        )
        item = reply.get("Item")
        return _context(item) if item else None

    def exists(self, org_id: str, context_type: str, context_id: str) -> bool:
        """Whether the org has this context (reads the key only)."""
        reply = self._db.get_item(
            TableName=self._table,
            Key=_key(org_id, context_type, context_id),
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in reply

    def put(self, org_id: str, context_type: str, context_id: str, document_json: str, at: str) -> tuple[Context, bool]:
        """Create or replace a context with ``document_json`` (already checked); returns it and
        whether it was created. One UpdateItem keeps ``created_at`` of the first write."""
        reply = self._db.update_item(
            TableName=self._table,
            Key=_key(org_id, context_type, context_id),
            UpdateExpression=(
                "SET #document = :document, #updated = :at, #created = if_not_exists(#created, :at),"
                " #org = :org, #type = :type, #id = :id"
            ),
            ExpressionAttributeNames={
                "#document": "document_json",
                "#updated": "updated_at",
                "#created": "created_at",
                "#org": "org_id",
                "#type": "context_type",
                "#id": "context_id",
            },
            ExpressionAttributeValues={
                ":document": {"S": document_json},
                ":at": {"S": at},
                ":org": {"S": org_id},
                ":type": {"S": context_type},
                ":id": {"S": context_id},
            },
            ReturnValues="ALL_OLD",
        )
        old = reply.get("Attributes")
        context = Context(
            org_id=org_id,
            context_type=context_type,
            context_id=context_id,
            document=json.loads(document_json),
            created_at=old["created_at"]["S"] if old else at,
            updated_at=at,
        )
        return context, not old

    def delete(self, org_id: str, context_type: str, context_id: str) -> Context | None:
        """Delete the org's context; returns it as it was, or None when there was none."""
        reply = self._db.delete_item(
            TableName=self._table,
            Key=_key(org_id, context_type, context_id),
            ReturnValues="ALL_OLD",
        )
        old = reply.get("Attributes")
        return _context(old) if old else None


def _key(org_id: str, context_type: str, context_id: str) -> dict[str, Any]:
    return {name: {"S": value} for name, value in keys.context_key(org_id, context_type, context_id).items()}


def _context(item: dict[str, Any]) -> Context:
    return Context(
        org_id=item["org_id"]["S"],
        context_type=item["context_type"]["S"],
        context_id=item["context_id"]["S"],
        document=json.loads(item["document_json"]["S"]),
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
    )
