"""The agents a workflow step may run, by the name a ``StepDefinition`` gives in ``agent``.

Adding an agent is writing an :data:`~threadline.agents.base.Agent` function and listing it
in ``AGENTS``; ``threadline.workflow.registry`` then refers to it by name (see docs/agents.md).
"""

from __future__ import annotations

from threadline.agents.base import Agent, AgentInput, AgentResult
from threadline.agents.cip import business_record, decision
from threadline.agents.cip_address import address_check
from threadline.agents.cip_tin import tin_check
from threadline.agents.cip_watchlist import watchlist_screening

AGENTS: dict[str, Agent] = {
    "cip.business_record": business_record,
    "cip.tin_check": tin_check,
    "cip.address_check": address_check,
    "cip.watchlist_screening": watchlist_screening,
    "cip.decision": decision,
}


class UnknownAgentError(LookupError):
    """No agent is registered under the name a step asked for."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown agent {name!r}; registered: {', '.join(sorted(AGENTS))}.")
        self.name = name


def run_agent(name: str, agent_input: AgentInput) -> AgentResult:
    """Run the agent registered as ``name`` over ``agent_input``."""
    agent = AGENTS.get(name)
    if agent is None:
        raise UnknownAgentError(name)
    return agent(agent_input)
