"""POST /v1/events/{id}/redeliver: send an event to the org's webhook endpoints again."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.webhooks import RedeliverEventRequest, RedeliveryOut
from threadline.api.route import RestApp, entry
from threadline.logic.webhooks import redeliver_event

app = RestApp(NATIVE)


@app.post("/v1/events/<event_id>/redeliver", status_code=202, summary="Redeliver an event")
def handle_redeliver_event(event_id: str, request: RedeliverEventRequest | None = None) -> Response[RedeliveryOut]:
    """Queue a fresh delivery of one of the org's events (within the event retention window):
    to `endpoint_id` alone, or to every endpoint receiving the event's type. 202 with the
    deliveries queued; each is attempted and retried as any delivery, in its endpoint's log."""
    tasks = redeliver_event(
        app.tenant("write"),
        event_id,
        request.endpoint_id if request is not None else None,
        store=wiring.webhook_store(),
        events=wiring.event_store(),
        queue=wiring.webhook_queue(),
    )
    return Response(status_code=202, content_type="application/json", body=RedeliveryOut.from_tasks(event_id, tasks))


lambda_handler = entry(app)
