"""DELETE /v1/webhook_endpoints/{id}: stop sending events to an endpoint."""

from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.webhooks import DeletedWebhookEndpointOut
from threadline.api.route import RestApp, entry
from threadline.logic.webhooks import delete_endpoint

app = RestApp(NATIVE)


@app.delete("/v1/webhook_endpoints/<endpoint_id>", summary="Delete a webhook endpoint")
def handle_delete_webhook_endpoint(endpoint_id: str) -> DeletedWebhookEndpointOut:
    """Delete one of the org's endpoints: 200 with it as it was and `deleted: true`; 404 when
    absent. Nothing more is sent to it, deliveries already queued or retrying included."""
    deleted = delete_endpoint(app.tenant("write"), endpoint_id, store=wiring.webhook_store())
    return DeletedWebhookEndpointOut.from_deleted(deleted)


lambda_handler = entry(app)
