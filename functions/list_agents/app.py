"""GET /v1/agents: the registered agent types, their context types and steps."""

from threadline.api.native import NATIVE
from threadline.api.native.agents import AgentListOut
from threadline.api.route import RestApp, entry
from threadline.logic.list_agents import list_agents

app = RestApp(NATIVE)


@app.get("/v1/agents", summary="List agent types")
def handle_list_agents() -> AgentListOut:
    """The agent types a thread can be created with (`type`), each with the context types it
    works on and the steps its workflow takes, in order."""
    return AgentListOut.from_agent_types(list_agents(app.tenant("read")))


lambda_handler = entry(app)
