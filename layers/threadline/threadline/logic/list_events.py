"""Listing an org's events (``GET /v1/events``)."""

from __future__ import annotations

from threadline.errors import InvalidParameterError
from threadline.models.domain import Tenant
from threadline.models.events import Event, EventFilter
from threadline.store.events import EventStore


def list_events(
    tenant: Tenant, wanted: EventFilter, after: str | None, cursor: str | None, limit: int, *, events: EventStore
) -> tuple[list[Event], bool]:
    """A page of the tenant's events matching ``wanted``, oldest first, after the event ``after``
    or from a ``cursor`` (the previous page's ``next_cursor``, which is its last event's id); and
    whether more follow. A key of one project sees that project's events only. Another tenant's
    thread or run matches nothing (its events are in another org's partitions)."""
    if after is not None and cursor is not None and after != cursor:
        raise InvalidParameterError("give after or cursor, not both", "cursor")
    if tenant.project_id is not None:
        if wanted.project_id not in (None, tenant.project_id):
            return [], False
        wanted = wanted.model_copy(update={"project_id": tenant.project_id})
    return events.list_events(wanted.model_copy(update={"org_id": tenant.org_id}), cursor or after, limit)
