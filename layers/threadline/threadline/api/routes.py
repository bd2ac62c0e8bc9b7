"""The route table: every method and path the API serves, and the function behind it.

One table for everything that needs the routes: the 405 function answers with its ``Allow``
header, the local server routes by it, and a test holds ``template.yaml``'s API events to it
(each route's function, plus one ``ANY`` event per path on ``MethodNotAllowedFunction``).
Free of pydantic and Powertools, for the 405 function's cold start.
"""

from __future__ import annotations

from typing import NamedTuple

from threadline.api.agentuity import AGENTUITY
from threadline.api.dialect import Dialect
from threadline.api.native import NATIVE

METHOD_NOT_ALLOWED_FUNCTION = "MethodNotAllowedFunction"


class Route(NamedTuple):
    """A method on a path (API Gateway form, e.g. ``/v1/threads/{thread_id}``) and its function."""

    method: str
    path: str
    function: str


ROUTES: tuple[Route, ...] = (
    Route("GET", "/v1/threads", "ListThreadsFunction"),
    Route("POST", "/v1/threads", "CreateThreadFunction"),
    Route("GET", "/v1/threads/{thread_id}", "GetThreadFunction"),
    Route("PATCH", "/v1/threads/{thread_id}", "UpdateThreadFunction"),
    Route("DELETE", "/v1/threads/{thread_id}", "DeleteThreadFunction"),
    Route("POST", "/v1/threads/{thread_id}/restore", "RestoreThreadFunction"),
    Route("GET", "/v1/threads/{thread_id}/steps", "ListStepsFunction"),
    Route("POST", "/v1/threads/{thread_id}/cancel", "CancelThreadFunction"),
    Route("POST", "/v1/threads/{thread_id}/steps/{step_id}/resolve", "ResolveStepFunction"),
    Route("GET", "/v1/contexts/{context_type}/{context_id}", "GetContextFunction"),
    Route("PUT", "/v1/contexts/{context_type}/{context_id}", "PutContextFunction"),
    Route("DELETE", "/v1/contexts/{context_type}/{context_id}", "DeleteContextFunction"),
    Route("GET", "/v1/agents", "ListAgentsFunction"),
    Route("GET", "/v1/runs", "ListRunsFunction"),
    Route("POST", "/v1/runs", "CreateRunFunction"),
    Route("GET", "/v1/runs/{run_id}", "GetRunFunction"),
    Route("POST", "/v1/runs/{run_id}/cancel", "CancelRunFunction"),
    Route("POST", "/v1/runs/{run_id}/actions", "RunActionsFunction"),
    Route("POST", "/v1/runs/{run_id}/feedback", "RunFeedbackFunction"),
    Route("GET", "/v1/runs/{run_id}/stream", "StreamRunFunction"),
    Route("GET", "/v1/events", "ListEventsFunction"),
    Route("POST", "/v1/events/{event_id}/redeliver", "RedeliverEventFunction"),
    Route("GET", "/v1/webhook_endpoints", "ListWebhookEndpointsFunction"),
    Route("POST", "/v1/webhook_endpoints", "CreateWebhookEndpointFunction"),
    Route("DELETE", "/v1/webhook_endpoints/{endpoint_id}", "DeleteWebhookEndpointFunction"),
    Route("GET", "/v1/webhook_endpoints/{endpoint_id}/deliveries", "ListWebhookDeliveriesFunction"),
    Route("GET", "/thread", "AgentuityListThreadsFunction"),
    Route("GET", "/thread/{thread_id}", "AgentuityGetThreadFunction"),
    Route("DELETE", "/thread/{thread_id}", "AgentuityDeleteThreadFunction"),
)

DIALECTS: tuple[Dialect, ...] = (AGENTUITY, NATIVE)


def paths() -> list[str]:
    """Every path served, once each, in table order."""
    return list(dict.fromkeys(route.path for route in ROUTES))


def allowed_methods(path: str) -> tuple[str, ...]:
    """The methods ``path`` serves, in table order (empty for an unknown path)."""
    return tuple(route.method for route in ROUTES if route.path == path)


def dialect_of(path: str) -> Dialect:
    """The dialect a path (route, resource or request path) belongs to; native by default."""
    return next((dialect for dialect in DIALECTS if dialect.owns(path)), NATIVE)
