"""What a benchmark request cost: the AWS API calls its clients made (counted by
botocore event hooks), summed up per request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any


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
    error: str | None = None
    role: str = "route"  # or "authorizer" (the keys table)


class CallRecorder:
    """Counts the API calls of the clients it is attached to (botocore event hooks)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._clients: list[Any] = []  # kept alive, so an id is never reused

    def attach(self, *clients: Any) -> None:
        """Hook ``clients`` (each once)."""
        for client in clients:
            if any(client is seen for seen in self._clients):
                continue
            self._clients.append(client)
            client.meta.events.register("provide-client-params", self._params)
            client.meta.events.register("after-call", self._after)

    @staticmethod
    def _params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench"] = {
            "table": params.get("TableName"),
            "index": params.get("IndexName"),
            "select": params.get("Select"),
        }

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        seen = context.get("bench", {})
        call = Call(model.service_model.service_name, model.name, seen.get("table"), seen.get("index"))
        call.select = seen.get("select")
        call.error = (parsed.get("Error") or {}).get("Code")
        if call.operation in ("Query", "Scan"):
            call.read = int(parsed.get("ScannedCount", 0))
            call.returned = int(parsed.get("Count", 0))
        elif call.operation == "GetItem":
            call.read = call.returned = 1 if "Item" in parsed else 0
        elif call.operation == "BatchGetItem":
            call.read = call.returned = sum(len(v) for v in parsed.get("Responses", {}).values())
        self.calls.append(call)

    @contextmanager
    def recording(self) -> Iterator[list[Call]]:
        """The calls made inside the block."""
        start = len(self.calls)
        found: list[Call] = []
        try:
            yield found
        finally:
            found.extend(self.calls[start:])


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
