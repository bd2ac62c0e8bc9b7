"""The event log (``store.keys``, "events"): recording events, reading a run's in order, and
listing an org's by thread, type or all, always after an event id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadline.models.events import Event, EventFilter
from threadline.store import keys
from threadline.store.items import deserialize, serialize
from threadline.timeutil import parse_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_DAY = 86_400
_FIELDS = tuple(Event.model_fields)


def event_item(event: Event, expires_at: int) -> dict[str, Any]:
    """An event as stored: its key, its fields, its listing attributes and when it expires."""
    return {
        **keys.event_key(event.org_id, event.run_id, event.id),
        **event.model_dump(),
        **keys.event_listing(event.org_id, event.project_id, event.thread_id, event.type),
        "expires_at": expires_at,
    }


def event_from_item(item: dict[str, Any]) -> Event:
    """An event item as the domain value."""
    return Event.model_validate({name: item[name] for name in _FIELDS})


class EventStore:
    """Events of an org's runs and threads."""

    def __init__(self, client: DynamoDBClient, table: str, retention_days: int = 30) -> None:
        self._db = client
        self._table = table
        self._retention = retention_days * _DAY

    def record(self, event: Event) -> None:
        """Store one event, kept for the retention window from when it happened. Recording it
        again writes the same item: a retried change's events are neither lost nor doubled.
        Events of one thread are recorded one at a time, in order, so a reader of a run always
        sees a prefix of its events."""
        item = event_item(event, int(parse_time(event.created_at).timestamp()) + self._retention)
        self._db.put_item(TableName=self._table, Item=serialize(item))

    def get(self, org_id: str, run_id: str, event_id: str) -> Event | None:
        """One event by its key, read strongly consistently; None when gone (expired)."""
        reply = self._db.get_item(
            TableName=self._table, Key=serialize(keys.event_key(org_id, run_id, event_id)), ConsistentRead=True
        )
        item = reply.get("Item")
        return None if item is None else event_from_item(deserialize(item))

    def by_id(self, org_id: str, event_id: str) -> Event | None:
        """An org's event by its id alone (the org's listing index), or None."""
        request = self._listing("org", org_id, (), None)
        request["KeyConditionExpression"] = "gsi_org = :partition AND sk = :id"
        request["ExpressionAttributeValues"] = serialize({":partition": org_id, ":id": event_id})
        items = self._db.query(**request).get("Items", [])
        return event_from_item(deserialize(items[0])) if items else None

    def run_events(self, org_id: str, run_id: str, after: str | None = None, limit: int = 1000) -> list[Event]:
        """Up to ``limit`` events of one run after the event ``after`` (all with None), in order,
        read strongly consistently: what a stream serves."""
        request = self._request(None, "pk", keys.event_pk(org_id, run_id), after)
        request["ConsistentRead"] = True
        return self._query(request, limit)

    def list_events(self, wanted: EventFilter, after: str | None, limit: int) -> tuple[list[Event], bool]:
        """Up to ``limit`` of an org's events matching ``wanted`` after the event ``after``, oldest
        first, and whether more follow. The narrowest listing serves it: a run's partition, a
        thread's, a type's, a project's or the org's; what it leaves of the filter (a type, a
        project) is a filter on that read."""
        org = wanted.org_id
        left: dict[str, str | None] = {}
        if wanted.run_id is not None:
            request = self._request(None, "pk", keys.event_pk(org, wanted.run_id), after)
            request["ConsistentRead"] = True  # a run's partition is the one safe to follow with `after`
            left = {"thread_id": wanted.thread_id, "type": wanted.type, "project_id": wanted.project_id}
        elif wanted.thread_id is not None:
            request = self._listing("thread", org, (wanted.thread_id,), after)
            left = {"type": wanted.type, "project_id": wanted.project_id}
        elif wanted.type is not None and wanted.project_id is None:
            request = self._listing("type", org, (wanted.type,), after)
        elif wanted.project_id is not None:
            request = self._listing("project", org, (wanted.project_id,), after)
            left = {"type": wanted.type}
        else:
            request = self._listing("org", org, (), after)
        conditions: dict[str, str] = {name: value for name, value in left.items() if value is not None}
        if conditions:
            request["FilterExpression"] = " AND ".join(f"#{name} = :{name}" for name in conditions)
            request["ExpressionAttributeNames"] = {f"#{name}": name for name in conditions}
            request["ExpressionAttributeValues"].update(serialize({f":{n}": v for n, v in conditions.items()}))
        found = self._query(request, limit + 1)
        return found[:limit], len(found) > limit

    def _listing(self, dimension: str, org_id: str, values: tuple[str, ...], after: str | None) -> dict[str, Any]:
        index, attribute = keys.EVENT_INDEXES[dimension]
        return self._request(index, attribute, keys.event_partition(dimension, org_id, *values), after)

    def _request(self, index: str | None, attribute: str, value: str, after: str | None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": f"{attribute} = :partition AND sk > :after",
            "ExpressionAttributeValues": serialize({":partition": value, ":after": after or keys.EVENT_ID_PREFIX}),
        }
        if index is not None:
            request["IndexName"] = index
        return request

    def _query(self, request: dict[str, Any], limit: int) -> list[Event]:
        events: list[Event] = []
        while len(events) < limit:
            reply = self._db.query(**request, Limit=limit - len(events))
            events += [event_from_item(deserialize(item)) for item in reply.get("Items", [])]
            if "LastEvaluatedKey" not in reply:
                break
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        return events
