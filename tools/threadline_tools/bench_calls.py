"""What a benchmark request cost: the AWS API calls its clients made (counted by
botocore event hooks), summed up per request, and the DynamoDB read units each read
consumed by AWS's rules, from the sizes of the items it read."""

from __future__ import annotations

import functools
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

READ_UNIT_BYTES = 4096
# What AWS bills a Query on but a reply may leave out: the items a filter dropped, a COUNT's
# items, the attributes a projection dropped. A read with one of these is evaluated again
# without them, unrecorded, to see the items it read.
_NOT_IN_REPLY = ("FilterExpression", "QueryFilter", "ScanFilter", "ProjectionExpression", "AttributesToGet", "Select")


@dataclass
class Call:
    """One AWS API call a request made."""

    service: str
    operation: str
    table: str | None = None
    index: str | None = None
    select: str | None = None
    read: int = 0
    returned: int = 0
    read_units: float = 0.0  # DynamoDB read units by AWS's rules (``query_read_units``, ``item_read_units``)
    error: str | None = None
    role: str = "route"  # or "authorizer" (the keys table)


class CallRecorder:
    """Counts the API calls of the clients it is attached to (botocore event hooks)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._clients: list[Any] = []  # kept alive, so an id is never reused
        self._replaying = threading.local()  # a read evaluated again is not a call of the request

    def attach(self, *clients: Any) -> None:
        """Hook ``clients`` (each once)."""
        for client in clients:
            if any(client is seen for seen in self._clients):
                continue
            self._clients.append(client)
            client.meta.events.register("provide-client-params", self._params)
            client.meta.events.register("after-call", functools.partial(self._after, client))

    @staticmethod
    def _params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        batch = params.get("RequestItems") or {}
        tables = list(batch) if isinstance(batch, dict) else []
        single = batch[tables[0]] if len(tables) == 1 and isinstance(batch[tables[0]], dict) else {}
        context["bench"] = {
            "table": params.get("TableName") or (tables[0] if len(tables) == 1 else None),
            "index": params.get("IndexName"),
            "select": params.get("Select"),
            "consistent": bool(params.get("ConsistentRead") or single.get("ConsistentRead")),
            "keys": sum(len(t.get("Keys", [])) for t in batch.values() if isinstance(t, dict)),
            "params": dict(params),
        }

    def _after(self, client: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if getattr(self._replaying, "active", False):
            return
        seen = context.get("bench", {})
        call = Call(model.service_model.service_name, model.name, seen.get("table"), seen.get("index"))
        call.select = seen.get("select")
        call.error = (parsed.get("Error") or {}).get("Code")
        consistent = bool(seen.get("consistent"))
        if call.operation in ("Query", "Scan"):
            call.read = int(parsed.get("ScannedCount", 0))
            call.returned = int(parsed.get("Count", 0))
            items = parsed.get("Items", [])
            params = seen.get("params") or {}
            if call.error is None and (call.returned < call.read or any(k in params for k in _NOT_IN_REPLY)):
                items = self._evaluated(client, call.operation, params)
            call.read_units = query_read_units(sum(item_size(i) for i in items), consistent)
        elif call.operation == "GetItem":
            call.read = call.returned = 1 if "Item" in parsed else 0
            call.read_units = item_read_units(item_size(parsed.get("Item") or {}), consistent)
        elif call.operation == "BatchGetItem":
            found = [i for items in parsed.get("Responses", {}).values() for i in items]
            call.read = call.returned = len(found)
            unprocessed = sum(len(t.get("Keys", [])) for t in (parsed.get("UnprocessedKeys") or {}).values())
            missing = max(0, int(seen.get("keys", 0)) - unprocessed - len(found))
            # Each key is read as a GetItem would be: one that finds nothing still costs a unit.
            call.read_units = sum(item_read_units(item_size(i), consistent) for i in found)
            call.read_units += missing * item_read_units(0, consistent)
        self.calls.append(call)

    def _evaluated(self, client: Any, operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The items a Query or Scan read (what AWS bills), whatever its reply left out."""
        request = {k: v for k, v in params.items() if k not in _NOT_IN_REPLY}
        used = set(re.findall(r"[#:]\w+", str(request.get("KeyConditionExpression", ""))))
        for placeholders in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {k: v for k, v in request.pop(placeholders, {}).items() if k in used}
            if kept:
                request[placeholders] = kept
        self._replaying.active = True
        try:
            reply = client.query(**request) if operation == "Query" else client.scan(**request)
        finally:
            self._replaying.active = False
        items: list[dict[str, Any]] = reply.get("Items", [])
        return items

    @contextmanager
    def recording(self) -> Iterator[list[Call]]:
        """The calls made inside the block."""
        start = len(self.calls)
        found: list[Call] = []
        try:
            yield found
        finally:
            found.extend(self.calls[start:])


# ----- item sizes and read units (AWS: "Item sizes and formats", "Read consumption") --------------
def item_size(item: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for an item in the low-level format: each attribute's name
    (UTF-8) plus its value."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one typed value: strings and binaries their length, a number about one byte per
    two significant digits plus one, a boolean or null one, a map or list 3 bytes plus one per
    element (with each element's name and value)."""
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return number_size(str(raw))
    if kind == "B":
        return len(raw) if isinstance(raw, bytes | bytearray) else len(str(raw).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in raw)
    if kind == "NS":
        return sum(number_size(n) for n in raw)
    if kind == "BS":
        return sum(len(b) for b in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in raw)
    raise ValueError(f"not a DynamoDB attribute value: {kind}")


def number_size(text: str) -> int:
    """Bytes of a number: one per two significant digits (leading and trailing zeros trimmed), plus one."""
    mantissa = text.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return (max(1, len(mantissa)) + 1) // 2 + 1


def query_read_units(total_bytes: int, consistent: bool) -> float:
    """Read units of one Query or Scan call: the sizes of the items it read summed, rounded up to
    4 KB (at least one unit), half of that when eventually consistent (every GSI read is)."""
    units = max(1, math.ceil(total_bytes / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def item_read_units(size: int, consistent: bool) -> float:
    """Read units of one item read by key (GetItem, or each item of a BatchGetItem): its size
    rounded up to 4 KB (an absent item costs as one of 0 bytes), half when eventually consistent."""
    return query_read_units(size, consistent)


@dataclass
class RequestCost:
    """What one request cost in AWS calls."""

    request: str
    method: str
    path: str
    status: int
    dynamodb: dict[str, int]  # the route's calls by operation
    items_read: int
    items_returned: int
    authorizer: dict[str, int]  # the authorizer's DynamoDB calls by operation
    kms: dict[str, int]
    stepfunctions: dict[str, int]
    calls: list[dict[str, Any]]


@dataclass(frozen=True)
class Request:
    """One benchmark request, as the gateway is sent it."""

    name: str
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    body: Any = None
    before: Callable[[], dict[str, list[str]]] | None = None  # an unmeasured request that yields the query


def request_cost(request: Request, status: int, calls: list[Call], keys_table: str) -> RequestCost:
    """The calls of one request summed up; those on ``keys_table`` are the authorizer's."""
    for c in calls:
        if c.service == "dynamodb" and c.table == keys_table:
            c.role = "authorizer"
    route = [c for c in calls if c.service == "dynamodb" and c.role == "route"]
    authorizer = [c for c in calls if c.role == "authorizer"]
    path = request.path
    if request.query:
        path += "?" + "&".join(f"{k}={v[0]}" for k, v in request.query.items())
    return RequestCost(
        request=request.name,
        method=request.method,
        path=path,
        status=status,
        dynamodb=dict(Counter(c.operation for c in route)),
        items_read=sum(c.read for c in route),
        items_returned=sum(c.returned for c in route),
        authorizer=dict(Counter(c.operation for c in authorizer)),
        kms=dict(Counter(c.operation for c in calls if c.service == "kms")),
        stepfunctions=dict(Counter(c.operation for c in calls if c.service == "stepfunctions")),
        calls=[asdict(c) for c in calls],
    )
