"""DynamoDB items of the threads table to domain values and back."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from threadline.models.domain import Requester, Step, Thread
from threadline.store.attributes import TypeDeserializer, TypeSerializer
from threadline.timeutil import normalize

_DEFAULT_MESSAGES = {
    "States.Timeout": "The step did not finish within its timeout",
    "States.HeartbeatTimeout": "The step stopped sending heartbeats",
}
_LOST_RACE_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_dynamo(value: Any) -> Any:
    """JSON values to what DynamoDB stores (floats become Decimals)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    """DynamoDB values back to JSON values (Decimals become int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    return value


def serialize_value(value: Any) -> dict[str, Any]:
    """One JSON value as a DynamoDB attribute value."""
    return _serializer.serialize(to_dynamo(value))


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(to_dynamo(v)) for k, v in item.items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


def step_from_item(item: dict[str, Any]) -> Step:
    """A step item as the state machine writes it (JSON in ``*_json`` string attributes)."""
    fields = {k: v for k, v in item.items() if k in Step.model_fields}
    for name in ("started_at", "completed_at"):
        if fields.get(name):
            fields[name] = normalize(fields[name])
    fields["artifacts"] = json.loads(item.get("artifacts_json") or "[]")
    fields["output"] = json.loads(item["output_json"]) if item.get("output_json") else None
    fields["error"] = step_error(item["error_json"]) if item.get("error_json") else None
    return Step.model_validate(fields)


def step_error(raw: str) -> dict[str, Any]:
    """A Step Functions error (``{"Error", "Cause"}``) as ``{"type", "message"}``; a Lambda
    function's Cause is its JSON error payload, whose ``errorMessage`` is the message."""
    error = json.loads(raw)
    cause = error.get("Cause") or ""
    try:
        message = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        message = cause
    kind = error.get("Error", "Error")
    if not message:  # e.g. a timeout, which Step Functions reports without a cause
        message = _DEFAULT_MESSAGES.get(kind, kind)
    return {"type": kind, "message": message}


def lost_race(error: Exception) -> bool:
    """Whether a cancelled transaction lost a race (a condition failed, or another transaction
    held an item): read again and retry, rather than fail the request."""
    reasons = {r.get("Code", "") for r in getattr(error, "response", {}).get("CancellationReasons", [])}
    return bool(reasons & _LOST_RACE_REASONS) and reasons <= _LOST_RACE_REASONS | {"None", ""}


def thread_from_header(item: dict[str, Any]) -> Thread:
    """A thread header as stored, without its user data (a separate item)."""
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
        requester=Requester(**requester) if requester else None,
        created_at=normalize(item["created_at"]),
        updated_at=normalize(item["updated_at"]),
        deleted=bool(item.get("deleted", False)),
        deleted_at=item.get("deleted_at"),
        deleted_by=item.get("deleted_by"),
        version=int(item.get("version", 1)),
        purge_at=int(item["purge_at"]) if item.get("purge_at") is not None else None,
        run_id=str(item.get("execution_name") or item["id"]),
        run_seq=int(item.get("run_seq", 0)),
        interrupt_policy=item.get("interrupt_policy", "manual"),
        ended_at=normalize(item["ended_at"]) if item.get("ended_at") else None,
        first_run_seq=int(item.get("first_run_seq", 0)),
    )


def query_prefix(client: Any, table: str, pk: str, prefix: str) -> list[dict[str, Any]]:
    """Every item of partition ``pk`` whose sort key starts with ``prefix``, in sort order (a
    strongly consistent Query, page by page)."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
        "ConsistentRead": True,
    }
    while True:
        reply = client.query(**request)
        items.extend(deserialize(i) for i in reply.get("Items", []))
        if "LastEvaluatedKey" not in reply:
            return items
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
