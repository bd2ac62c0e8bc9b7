"""List the registered agent types."""

from __future__ import annotations

from threadline.models.agent_types import AgentType
from threadline.models.domain import Tenant
from threadline.workflow.agent_types import AGENT_TYPES


def list_agents(tenant: Tenant) -> list[AgentType]:
    """Every agent type of the registry, by name. The same for every tenant: agent types are
    part of the deployment, not of an org."""
    return sorted(AGENT_TYPES.values(), key=lambda agent: agent.name)
