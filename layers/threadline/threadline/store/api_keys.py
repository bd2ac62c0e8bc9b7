"""API key repository on DynamoDB (the keys table)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadline.models.api_keys import ApiKeyRecord
from threadline.store import keys

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ApiKeyStore:
    """Reads and writes API key records."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._db = client
        self._table = table

    def put(self, record: ApiKeyRecord) -> None:
        """Store a new key record."""
        item: dict[str, Any] = {
            "key_hash": {"S": record.key_hash},
            "key_id": {"S": record.key_id},
            "org_id": {"S": record.org_id},
            "name": {"S": record.name},
            "scopes": {"L": [{"S": s} for s in record.scopes]},
            "created_at": {"S": record.created_at},
        }
        if record.project_id:
            item["project_id"] = {"S": record.project_id}
        for name in ("usage_key_id", "usage_key", "usage_plan_id"):
            if getattr(record, name):
                item[name] = {"S": getattr(record, name)}
        self._db.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(key_hash)")

    def get(self, key_hash: str) -> ApiKeyRecord | None:
        """The record of a key, by its hash."""
        reply = self._db.get_item(TableName=self._table, Key={"key_hash": {"S": key_hash}})
        item = reply.get("Item")
        return _record(item) if item else None

    def list_keys(self, org_id: str | None = None) -> list[ApiKeyRecord]:
        """Every key of ``org_id`` (oldest first), or of the whole deployment."""
        records: list[ApiKeyRecord] = []
        request: dict[str, Any] = {"TableName": self._table}
        if org_id is not None:
            request.update(
                IndexName=keys.KEYS_BY_ORG_INDEX,
                KeyConditionExpression="org_id = :org",
                ExpressionAttributeValues={":org": {"S": org_id}},
            )
        while True:
            # Scanning the keys table is an operator's command, never a route.
            reply = self._db.query(**request) if org_id is not None else self._db.scan(**request)
            records.extend(_record(item) for item in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply:
                return sorted(records, key=lambda r: r.created_at)
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def find(self, key_id: str) -> ApiKeyRecord | None:
        """The record of a key, by its id."""
        reply = self._db.query(
            TableName=self._table,
            IndexName=keys.KEYS_BY_ID_INDEX,
            KeyConditionExpression="key_id = :id",
            ExpressionAttributeValues={":id": {"S": key_id}},
        )
        items = reply.get("Items", [])
        return _record(items[0]) if items else None

    def set_usage(self, key_hash: str, usage_key_id: str, usage_key: str, plan_id: str) -> None:
        """Give a key its own API Gateway API key on usage plan ``plan_id``."""
        self._db.update_item(
            TableName=self._table,
            Key={"key_hash": {"S": key_hash}},
            UpdateExpression="SET usage_key_id = :id, usage_key = :key, usage_plan_id = :plan",
            ConditionExpression="attribute_exists(key_hash)",
            ExpressionAttributeValues={
                ":id": {"S": usage_key_id},
                ":key": {"S": usage_key},
                ":plan": {"S": plan_id},
            },
        )

    def revoke(self, key_hash: str, revoked_at: str) -> None:
        """Mark a key revoked; it stops working when the authorizer cache expires."""
        self._db.update_item(
            TableName=self._table,
            Key={"key_hash": {"S": key_hash}},
            UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :at)",
            ExpressionAttributeValues={":at": {"S": revoked_at}},
        )


def _record(item: dict[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_hash=item["key_hash"]["S"],
        key_id=item["key_id"]["S"],
        org_id=item["org_id"]["S"],
        name=item.get("name", {}).get("S", ""),
        scopes=tuple(s["S"] for s in item.get("scopes", {}).get("L", [])),
        created_at=item["created_at"]["S"],
        project_id=item.get("project_id", {}).get("S"),
        revoked_at=item.get("revoked_at", {}).get("S"),
        usage_key_id=item.get("usage_key_id", {}).get("S"),
        usage_key=item.get("usage_key", {}).get("S"),
        usage_plan_id=item.get("usage_plan_id", {}).get("S"),
    )
