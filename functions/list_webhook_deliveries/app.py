"""GET /v1/webhook_endpoints/{id}/deliveries: an endpoint's delivery log."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.webhooks import DeliveryAttemptListOut, DeliveryAttemptOut
from threadline.api.route import RestApp, entry
from threadline.logic.webhooks import list_deliveries
from threadline.models.limits import MAX_PAGE_SIZE

app = RestApp(NATIVE)


@app.get("/v1/webhook_endpoints/<endpoint_id>/deliveries", summary="List an endpoint's delivery attempts")
def handle_list_webhook_deliveries(
    endpoint_id: str,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, 1-100 (default 20).")] = None,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page.")] = None,
) -> DeliveryAttemptListOut:
    """Every attempt to deliver an event to the endpoint, newest first: the event, the attempt's
    number, when, the receiver's HTTP status or the error, how long it took, and what became of the
    delivery (delivered, retrying at `next_attempt_at`, or failed for good)."""
    page, next_cursor = list_deliveries(
        app.tenant("read"), endpoint_id, limit or 20, cursor, store=wiring.webhook_store()
    )
    return DeliveryAttemptListOut(
        data=[DeliveryAttemptOut.from_attempt(a) for a in page],
        has_more=next_cursor is not None,
        next_cursor=next_cursor,
    )


lambda_handler = entry(app)
