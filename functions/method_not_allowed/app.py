"""ANY on a known path whose method has no route: 405 with an Allow header."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, error_response

# Methods each path serves (tests check this against template.yaml).
ALLOWED_METHODS: dict[str, tuple[str, ...]] = {
    "/v1/threads": ("GET", "POST"),
    "/v1/threads/{thread_id}": ("GET", "DELETE"),
    "/thread": ("GET",),
    "/thread/{thread_id}": ("GET", "DELETE"),
    "/v1/threads/{thread_id}/steps": ("GET",),
    "/v1/threads/{thread_id}/cancel": ("POST",),
    "/v1/threads/{thread_id}/steps/{step_id}/resolve": ("POST",),
    "/v1/contexts/{context_type}/{context_id}": ("GET", "PUT", "DELETE"),
    "/v1/agents": ("GET",),
}


def lambda_handler(event: dict, context: LambdaContext) -> dict:
    resource = event.get("resource", "")
    allowed = ", ".join(ALLOWED_METHODS.get(resource, ()))
    dialect = Dialect.AGENTUITY if resource.startswith("/thread") else Dialect.NATIVE
    response = error_response(
        dialect, 405, "method_not_allowed", f"{event.get('httpMethod')} is not allowed on {resource}; use {allowed}"
    )
    return {
        "statusCode": 405,
        "headers": {"Content-Type": "application/json", "Allow": allowed},
        "body": response.body,
        "isBase64Encoded": False,
    }
