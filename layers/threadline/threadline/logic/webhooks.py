"""Webhooks (SPEC §6): registering an org's endpoints, fanning each event out to the endpoints
that subscribe to it (one queued delivery per endpoint, so a slow endpoint never holds up
another), delivering with Standard Webhooks signatures, retrying on a schedule that spans more
than a day, and logging every attempt.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from threadline.errors import ConflictError, ForbiddenError, InvalidParameterError, NotFoundError
from threadline.models.domain import Tenant
from threadline.models.webhooks import (
    DeliveryAttempt,
    DeliveryState,
    DeliveryTask,
    NewWebhookEndpoint,
    SendResult,
    WebhookEndpoint,
)
from threadline.store.events import EventStore
from threadline.store.items import deserialize
from threadline.store.webhooks import MAX_QUEUE_DELAY_SECONDS, DeliveryQueue, WebhookStore, task_of
from threadline.timeutil import format_time, now_iso
from threadline.webhooks.sender import WebhookSender
from threadline.webhooks.signing import new_secret, signed_headers
from threadline.webhooks.urls import UrlNotAllowedError

MAX_ENDPOINTS_PER_ORG = 16
# Seconds to wait after each failed attempt before the next: 8 attempts over about 27.6 hours
# (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), then the delivery is kept as failed.
RETRY_DELAYS: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)


@dataclass(frozen=True)
class RetrySchedule:
    """When failed attempts are retried: ``delays`` scaled by ``scale`` (1 in AWS; the local
    server compresses a day into a minute or two, tests into nothing)."""

    delays: tuple[int, ...] = RETRY_DELAYS
    scale: float = 1.0

    @property
    def attempts(self) -> int:
        """How many attempts a delivery gets in all."""
        return len(self.delays) + 1

    def delay_after(self, attempt: int) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (from 1); None after the last."""
        if attempt >= self.attempts:
            return None
        return self.delays[attempt - 1] * self.scale


def _org_wide(tenant: Tenant) -> Tenant:
    # Endpoints are the org's and receive every project's events: a key restricted to one
    # project may neither manage nor read them (the 403 of a project key reaching past its project).
    if tenant.project_id is not None:
        raise ForbiddenError(f"This API key is restricted to project {tenant.project_id}")
    return tenant


# ----- endpoints ------------------------------------------------------------------------------


def create_endpoint(
    tenant: Tenant, new: NewWebhookEndpoint, *, store: WebhookStore, sender: WebhookSender
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint of the tenant's org: its URL must be allowed now (``webhooks.urls``;
    a 400 naming ``url`` otherwise). The endpoint and its new secret, which nothing shows again."""
    org_id = _org_wide(tenant).org_id
    try:
        sender.check(new.url)
    except UrlNotAllowedError as error:
        raise InvalidParameterError(str(error), "url") from None
    if len(store.endpoints(org_id)) >= MAX_ENDPOINTS_PER_ORG:
        raise ConflictError(f"An org may have at most {MAX_ENDPOINTS_PER_ORG} webhook endpoints: delete one first")
    endpoint = WebhookEndpoint(
        id=f"we_{secrets.token_hex(12)}",
        org_id=org_id,
        url=new.url,
        events=tuple(dict.fromkeys(new.events)),
        description=new.description,
        created_at=now_iso(),
    )
    secret = new_secret()
    store.create(endpoint, secret)
    return endpoint, secret


def list_endpoints(tenant: Tenant, *, store: WebhookStore) -> list[WebhookEndpoint]:
    """The tenant's org's endpoints, oldest first."""
    return store.endpoints(_org_wide(tenant).org_id)


def delete_endpoint(tenant: Tenant, endpoint_id: str, *, store: WebhookStore) -> WebhookEndpoint:
    """Delete one of the org's endpoints (404 if it has none by that id): nothing more is sent
    to it, deliveries already queued included."""
    deleted = store.delete(_org_wide(tenant).org_id, endpoint_id) if _is_endpoint_id(endpoint_id) else None
    if deleted is None:
        raise NotFoundError(f"No webhook endpoint {endpoint_id}")
    return deleted


def list_deliveries(
    tenant: Tenant, endpoint_id: str, limit: int, cursor: str | None, *, store: WebhookStore
) -> tuple[list[DeliveryAttempt], str | None]:
    """An endpoint's delivery log, newest attempt first, a page at a time."""
    org_id = _org_wide(tenant).org_id
    if not _is_endpoint_id(endpoint_id) or store.get(org_id, endpoint_id) is None:
        raise NotFoundError(f"No webhook endpoint {endpoint_id}")
    return store.attempts(org_id, endpoint_id, limit, cursor)


def redeliver_event(
    tenant: Tenant,
    event_id: str,
    endpoint_id: str | None,
    *,
    store: WebhookStore,
    events: EventStore,
    queue: DeliveryQueue,
) -> list[DeliveryTask]:
    """Queue a fresh delivery of one of the org's events: to the endpoint named (whatever it
    subscribes to), or to every endpoint subscribed to its type. The deliveries queued."""
    org_id = _org_wide(tenant).org_id
    event = events.by_id(org_id, event_id) if len(event_id) <= 128 else None
    if event is None:
        raise NotFoundError(f"No event {event_id}")
    if endpoint_id is not None:
        endpoint = store.get(org_id, endpoint_id) if _is_endpoint_id(endpoint_id) else None
        if endpoint is None:
            raise NotFoundError(f"No webhook endpoint {endpoint_id}", "endpoint_id")
        targets = [endpoint]
    else:
        targets = [endpoint for endpoint in store.endpoints(org_id) if endpoint.subscribes(event.type)]
    tasks = [
        DeliveryTask(
            org_id=org_id,
            endpoint_id=endpoint.id,
            event_id=event.id,
            run_id=event.run_id,
            delivery_id=f"dlv_{secrets.token_hex(12)}",
        )
        for endpoint in targets
    ]
    queue.send_all(tasks)
    return tasks


def _is_endpoint_id(value: str) -> bool:
    return value.startswith("we_") and len(value) <= 64 and value[3:].isalnum()


# ----- fan-out: the event log's stream → one queued delivery per subscribed endpoint -----------


def fan_out(
    record: dict[str, Any],
    *,
    store: WebhookStore,
    queue: DeliveryQueue,
    known: dict[str, list[WebhookEndpoint]] | None = None,
) -> int:
    """Queue a delivery of the event a stream record (Lambda's shape) inserted to each endpoint
    of its org subscribed to its type; how many. Never calls a receiver. A record fanned out
    twice (a retried batch) queues its deliveries twice, under the same ids: receivers see the
    same ``webhook-id`` and drop the second. ``known``: the endpoints already read, by org (one
    Query per org and batch, not per event)."""
    change = record.get("dynamodb") or {}
    image = change.get("NewImage")
    if record.get("eventName") != "INSERT" or not image:
        return 0
    event = deserialize(image)
    org_id = event["org_id"]
    if known is None or org_id not in known:
        endpoints = store.endpoints(org_id)
        if known is not None:
            known[org_id] = endpoints
    else:
        endpoints = known[org_id]
    tasks = [
        DeliveryTask(
            org_id=event["org_id"],
            endpoint_id=endpoint.id,
            event_id=event["id"],
            run_id=event["run_id"],
            delivery_id=_fan_out_delivery_id(event["id"], endpoint.id),
        )
        for endpoint in endpoints
        if endpoint.subscribes(event["type"])
    ]
    queue.send_all(tasks)
    return len(tasks)


def _fan_out_delivery_id(event_id: str, endpoint_id: str) -> str:
    return "dlv_" + hashlib.sha256(f"{event_id}/{endpoint_id}".encode()).hexdigest()[:24]


# ----- delivery -------------------------------------------------------------------------------


def deliver(
    task: DeliveryTask,
    *,
    store: WebhookStore,
    events: EventStore,
    queue: DeliveryQueue,
    sender: WebhookSender,
    schedule: RetrySchedule,
    clock: Callable[[], float] = time.time,
) -> DeliveryAttempt | None:
    """Make one attempt of a queued delivery: POST the event, signed, to its endpoint (whose URL
    is checked again, on the addresses then connected to), log the attempt, and queue the next
    one after a failure while the schedule lasts. None when there was nothing to attempt: a retry
    not yet due (queued again for later), an endpoint deleted since, an event expired since."""
    now = clock()
    if task.not_before is not None and task.not_before > now:
        queue.send(task, math.ceil(task.not_before - now))  # a wait longer than the queue's longest delay
        return None
    found = store.get_with_secret(task.org_id, task.endpoint_id)
    if found is None:
        return None
    endpoint, secret = found
    event = events.get(task.org_id, task.run_id, task.event_id)
    if event is None:
        return None
    timestamp = int(now)
    result = sender.post(endpoint.url, event.body, signed_headers(secret, event.id, timestamp, event.body))
    return record_attempt(task, result, now, store=store, queue=queue, schedule=schedule)


def record_attempt(
    task: DeliveryTask,
    result: SendResult,
    now: float,
    *,
    store: WebhookStore,
    queue: DeliveryQueue,
    schedule: RetrySchedule,
) -> DeliveryAttempt:
    """Log an attempt's result and, after a failure, queue the next attempt if the schedule has one."""
    delay = None if result.delivered else schedule.delay_after(task.attempt)
    state: DeliveryState = "delivered" if result.delivered else ("retrying" if delay is not None else "failed")
    due = now + delay if delay is not None else None
    attempt = DeliveryAttempt(
        id=f"{task.delivery_id}.{task.attempt}",
        delivery_id=task.delivery_id,
        endpoint_id=task.endpoint_id,
        event_id=task.event_id,
        attempt=task.attempt,
        attempted_at=format_time_of(now),
        status="succeeded" if result.delivered else "failed",
        http_status=result.http_status,
        error=result.error if not result.delivered else None,
        duration_ms=result.duration_ms,
        state=state,
        next_attempt_at=format_time_of(due) if due is not None else None,
    )
    store.log(task.org_id, attempt)
    if delay is not None and due is not None:
        wait = math.ceil(delay)
        later = task.model_copy(
            update={
                "attempt": task.attempt + 1,
                "not_before": math.ceil(due) if wait > MAX_QUEUE_DELAY_SECONDS else None,
            }
        )
        queue.send(later, wait)
    return attempt


def format_time_of(epoch: float) -> str:
    """A Unix time as the API writes times (RFC 3339 UTC, milliseconds)."""
    return format_time(datetime.fromtimestamp(epoch, UTC))


def deliver_messages(
    messages: Sequence[tuple[str, str]],
    deliver_one: Callable[[DeliveryTask], Any],
    on_error: Callable[[str, Exception], None] | None = None,
) -> list[str]:
    """Deliver a batch of queued messages (id, body) side by side, so a slow receiver never holds
    up another's delivery; the ids of those whose processing failed (not those whose receiver
    failed: that is logged and retried by the schedule), for the queue to deliver again (and,
    after a few times, to move to its dead-letter queue). ``on_error`` hears of each failure."""

    def one(message: tuple[str, str]) -> bool:
        try:
            deliver_one(task_of(message[1]))
        except Exception as error:
            if on_error is not None:
                on_error(message[0], error)
            return False
        return True

    if not messages:
        return []
    with ThreadPoolExecutor(max_workers=len(messages)) as pool:
        outcomes = list(pool.map(one, messages))
    return [message_id for (message_id, _), ok in zip(messages, outcomes, strict=True) if not ok]
