"""GET /v1/events: the event log, oldest first, by thread, run and type, after an event."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.events import EventListOut, EventOut
from threadline.api.route import RestApp, entry
from threadline.logic.list_events import list_events
from threadline.models.events import EVENT_ID_PATTERN, EventFilter, EventType
from threadline.models.limits import MAX_PAGE_SIZE

app = RestApp(NATIVE)


@app.get("/v1/events", summary="List events")
def handle_list_events(
    thread_id: Annotated[str | None, Query(max_length=128, description="The events of this thread only.")] = None,
    run_id: Annotated[str | None, Query(max_length=128, description="The events of this run only.")] = None,
    type: Annotated[EventType | None, Query(description="The events of this type only.")] = None,
    after: Annotated[
        str | None, Query(pattern=EVENT_ID_PATTERN, description="Only events after this one (its id).")
    ] = None,
    cursor: Annotated[
        str | None, Query(pattern=EVENT_ID_PATTERN, description="next_cursor of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1-100 (default 20).")] = 20,
) -> EventListOut:
    """Events of the caller's org (of its project, for a project's key), oldest first, kept for the
    deployment's event retention window."""
    tenant = app.tenant("read")
    wanted = EventFilter(org_id=tenant.org_id, thread_id=thread_id, run_id=run_id, type=type)
    found, more = list_events(tenant, wanted, after, cursor, limit, events=wiring.event_store())
    return EventListOut(
        data=[EventOut.from_event(event) for event in found],
        has_more=more,
        next_cursor=found[-1].id if more and found else None,
    )


lambda_handler = entry(app)
