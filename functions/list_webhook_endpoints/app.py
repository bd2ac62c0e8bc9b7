"""GET /v1/webhook_endpoints: the org's webhook endpoints."""

from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.webhooks import WebhookEndpointListOut, WebhookEndpointOut
from threadline.api.route import RestApp, entry
from threadline.logic.webhooks import list_endpoints

app = RestApp(NATIVE)


@app.get("/v1/webhook_endpoints", summary="List webhook endpoints")
def handle_list_webhook_endpoints() -> WebhookEndpointListOut:
    """Every webhook endpoint of the org, oldest first (without their secrets)."""
    endpoints = list_endpoints(app.tenant("read"), store=wiring.webhook_store())
    return WebhookEndpointListOut(data=[WebhookEndpointOut.from_endpoint(e) for e in endpoints])


lambda_handler = entry(app)
