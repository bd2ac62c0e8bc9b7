"""GET /v1/agents: the registered agent types, their context types and steps."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from threadline.api.errors import Dialect, register_error_handlers
from threadline.api.http import resolve
from threadline.api.tenant import READ, current_tenant
from threadline.logic.list_agents import list_agents
from threadline.models.agents import AgentListOut

logger = Logger(service="threadline")
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app, Dialect.NATIVE)


@app.get("/v1/agents", summary="List agent types", tags=["agents"], operation_id="listAgents")
def handle_list_agents() -> AgentListOut:
    """The agent types a thread can be created with (`type`), each with the context types it
    works on and the steps its workflow takes, in order."""
    return AgentListOut.from_agent_types(list_agents(current_tenant(app, READ)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return resolve(app, event, context, Dialect.NATIVE)
