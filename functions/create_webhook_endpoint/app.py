"""POST /v1/webhook_endpoints: register a receiver of the org's events."""

from aws_lambda_powertools.event_handler import Response
from threadline import wiring
from threadline.api.native import NATIVE
from threadline.api.native.webhooks import CreatedWebhookEndpointOut, CreateWebhookEndpointRequest
from threadline.api.route import RestApp, entry
from threadline.logic.webhooks import create_endpoint

app = RestApp(NATIVE)


@app.post(
    "/v1/webhook_endpoints",
    status_code=201,
    summary="Create a webhook endpoint",
    responses={409: {"description": "The org has the most endpoints it may have (16)."}},
)
def handle_create_webhook_endpoint(request: CreateWebhookEndpointRequest) -> Response[CreatedWebhookEndpointOut]:
    """Register an https URL to receive the org's events (all types, or those in `events`), each
    POSTed and signed as Standard Webhooks says. The reply carries the endpoint's signing `secret`:
    it is shown only here. A URL whose host resolves to a private, loopback or link-local address
    is a 400."""
    endpoint, secret = create_endpoint(
        app.tenant("write"), request.to_new_endpoint(), store=wiring.webhook_store(), sender=wiring.webhook_sender()
    )
    body = CreatedWebhookEndpointOut.from_created(endpoint, secret)
    return Response(status_code=201, content_type="application/json", body=body)


lambda_handler = entry(app)
