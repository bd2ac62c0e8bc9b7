"""Wire shapes of the native dialect's webhooks (``/v1/webhook_endpoints``, ``/v1/events/{id}/redeliver``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from threadline.models.events import EVENT_TYPES, EventType
from threadline.models.webhooks import (
    AttemptStatus,
    DeliveryAttempt,
    DeliveryState,
    DeliveryTask,
    NewWebhookEndpoint,
    WebhookEndpoint,
)
from threadline.webhooks.urls import MAX_URL_LENGTH


def _check_event_types(values: list[str]) -> list[str]:
    if not values:
        raise ValueError("events must name at least one event type (omit it for every type)")
    unknown = [value for value in values if value not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"events: unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES)})")
    if len(values) > len(EVENT_TYPES):
        raise ValueError("events names a type more than once")
    return values


EventTypes = Annotated[list[StrictStr], AfterValidator(_check_event_types)]


class CreateWebhookEndpointRequest(BaseModel):
    """Body of ``POST /v1/webhook_endpoints``: unknown fields are rejected."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://hooks.example.com/threadline", "events": ["run.completed"]}]},
    )

    url: Annotated[StrictStr, Field(min_length=1, max_length=MAX_URL_LENGTH)] = Field(
        description="Where events are POSTed: https, a public host (never a private, loopback or link-local"
        " address), no credentials."
    )
    events: EventTypes | None = Field(
        default=None, description="The event types to receive (e.g. run.completed); omit for every type."
    )
    description: Annotated[StrictStr, Field(max_length=500)] | None = None

    def to_new_endpoint(self) -> NewWebhookEndpoint:
        """The endpoint this request asks for (its URL is checked by logic, which resolves it)."""
        events: tuple[Any, ...] = tuple(self.events or ())
        return NewWebhookEndpoint(url=self.url, events=events, description=self.description)


class WebhookEndpointOut(BaseModel):
    """A webhook endpoint (its secret is shown once, when it is created)."""

    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    id: str
    org_id: str
    url: str
    events: list[EventType] | None = Field(description="The event types it receives; null: every type.")
    description: str | None
    created_at: str

    @classmethod
    def fields_of(cls, endpoint: WebhookEndpoint) -> dict[str, Any]:
        """The wire fields of an endpoint."""
        return {
            "id": endpoint.id,
            "org_id": endpoint.org_id,
            "url": endpoint.url,
            "events": list(endpoint.events) or None,
            "description": endpoint.description,
            "created_at": endpoint.created_at,
        }

    @classmethod
    def from_endpoint(cls, endpoint: WebhookEndpoint) -> WebhookEndpointOut:
        """Shape a stored endpoint."""
        return cls(**cls.fields_of(endpoint))


class CreatedWebhookEndpointOut(WebhookEndpointOut):
    """Reply of ``POST /v1/webhook_endpoints``: the endpoint and its signing secret, shown only here."""

    secret: str = Field(
        description="The Standard Webhooks signing secret (whsec_ and base64): verify each delivery's"
        " webhook-signature with it. Shown only in this reply."
    )

    @classmethod
    def from_created(cls, endpoint: WebhookEndpoint, secret: str) -> CreatedWebhookEndpointOut:
        """Shape a new endpoint with its secret."""
        return cls(**cls.fields_of(endpoint), secret=secret)


class DeletedWebhookEndpointOut(WebhookEndpointOut):
    """Reply of ``DELETE /v1/webhook_endpoints/{id}``: the endpoint as it was, marked deleted."""

    deleted: Literal[True] = True

    @classmethod
    def from_deleted(cls, endpoint: WebhookEndpoint) -> DeletedWebhookEndpointOut:
        """Shape an endpoint just deleted."""
        return cls(**cls.fields_of(endpoint))


class WebhookEndpointListOut(BaseModel):
    """Reply of ``GET /v1/webhook_endpoints``: every endpoint of the org (at most 16), oldest first."""

    object: Literal["list"] = "list"
    data: list[WebhookEndpointOut]
    has_more: Literal[False] = False


class DeliveryAttemptOut(BaseModel):
    """One attempt to deliver an event to an endpoint."""

    object: Literal["webhook_delivery_attempt"] = "webhook_delivery_attempt"
    id: str
    delivery_id: str = Field(description="The delivery this attempt is of (a redelivery is a delivery of its own).")
    endpoint_id: str
    event_id: str
    attempt: int = Field(description="1 for the first attempt of the delivery, 2 for its first retry, ...")
    attempted_at: str
    status: AttemptStatus = Field(description="succeeded: the receiver answered 2xx; failed: anything else.")
    http_status: int | None = Field(description="The receiver's status; null when none came (see error).")
    error: str | None = Field(description="Why the attempt failed before a status (timeout, connection, URL).")
    duration_ms: int
    state: DeliveryState = Field(
        description="The delivery after this attempt: delivered, retrying (at next_attempt_at) or failed for good."
    )
    next_attempt_at: str | None

    @classmethod
    def from_attempt(cls, attempt: DeliveryAttempt) -> DeliveryAttemptOut:
        """Shape a logged attempt."""
        return cls(**attempt.model_dump())


class DeliveryAttemptListOut(BaseModel):
    """Reply of ``GET /v1/webhook_endpoints/{id}/deliveries``."""

    object: Literal["list"] = "list"
    data: list[DeliveryAttemptOut]
    has_more: bool
    next_cursor: str | None


class RedeliverEventRequest(BaseModel):
    """Body of ``POST /v1/events/{id}/redeliver`` (optional): unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"endpoint_id": "we_0123456789abcdef"}]})

    endpoint_id: Annotated[StrictStr, Field(min_length=1, max_length=128)] | None = Field(
        default=None,
        description="Redeliver to this endpoint alone (whatever types it receives); omit for every endpoint"
        " of the org that receives the event's type.",
    )


class QueuedDeliveryOut(BaseModel):
    """A delivery queued by a redelivery."""

    delivery_id: str
    endpoint_id: str


class RedeliveryOut(BaseModel):
    """Reply of ``POST /v1/events/{id}/redeliver``: the deliveries queued (see each endpoint's log)."""

    object: Literal["redelivery"] = "redelivery"
    event_id: str
    deliveries: list[QueuedDeliveryOut]

    @classmethod
    def from_tasks(cls, event_id: str, tasks: list[DeliveryTask]) -> RedeliveryOut:
        """Shape the deliveries queued."""
        return cls(
            event_id=event_id,
            deliveries=[QueuedDeliveryOut(delivery_id=t.delivery_id, endpoint_id=t.endpoint_id) for t in tasks],
        )
