"""Webhooks (SPEC §6): an org's endpoints, the deliveries of its events to them, and the log of
every delivery attempt."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from threadline.models.events import EventType

AttemptStatus = Literal["succeeded", "failed"]
# What became of a delivery after an attempt: delivered, to be retried at next_attempt_at, or
# failed for good (the schedule ran out, the endpoint was deleted or its URL is not allowed).
DeliveryState = Literal["delivered", "retrying", "failed"]


class WebhookEndpoint(BaseModel):
    """An org's receiver of events: where to POST, which event types (all when ``events`` is
    empty). Its secret is never part of it: the store keeps it sealed and opens it only to sign."""

    model_config = ConfigDict(frozen=True)

    id: str
    org_id: str
    url: str
    events: tuple[EventType, ...]
    description: str | None
    created_at: str

    def subscribes(self, event_type: str) -> bool:
        """Whether events of ``event_type`` go to this endpoint."""
        return not self.events or event_type in self.events


class NewWebhookEndpoint(BaseModel):
    """What a client asks for when registering an endpoint (the URL as given, not yet checked)."""

    url: str
    events: tuple[EventType, ...] = ()
    description: str | None = None


class DeliveryTask(BaseModel):
    """One delivery of one event to one endpoint, as queued (no secret, no event body: the
    deliverer reads both when it sends). ``attempt`` counts from 1; ``not_before`` (Unix seconds)
    holds a retry whose wait is longer than the queue's longest delay."""

    model_config = ConfigDict(extra="forbid")

    org_id: str
    endpoint_id: str
    event_id: str
    run_id: str
    delivery_id: str
    attempt: int = 1
    not_before: int | None = None


class DeliveryAttempt(BaseModel):
    """One attempt of a delivery, as logged."""

    id: str
    delivery_id: str
    endpoint_id: str
    event_id: str
    attempt: int
    attempted_at: str
    status: AttemptStatus
    http_status: int | None
    error: str | None
    duration_ms: int
    state: DeliveryState
    next_attempt_at: str | None


class SendResult(BaseModel):
    """What one POST to an endpoint came to: an HTTP status, or an error before one."""

    http_status: int | None = None
    error: str | None = None
    duration_ms: int = 0

    @property
    def delivered(self) -> bool:
        """A 2xx answer: the receiver has the event."""
        return self.http_status is not None and 200 <= self.http_status < 300
