"""The registry of agent types. Adding an agent type is adding one definition here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StepDefinition:
    """One step of an agent type's workflow."""

    name: str
    label: str
    agent: str
    type: str = "activity"
    parent: str | None = None


@dataclass(frozen=True)
class AgentType:
    """A named workflow: what it works on and which steps it takes."""

    name: str
    description: str
    context_types: tuple[str, ...]
    steps: tuple[StepDefinition, ...] = field(default_factory=tuple)


AGENT_TYPES: dict[str, AgentType] = {
    agent.name: agent
    for agent in (
        AgentType(
            name="cip_orchestrator",
            description="Customer identification for a business: checks its record and decides.",
            context_types=("business",),
        ),
    )
}


def agent_type(name: str) -> AgentType | None:
    """The agent type called ``name``, if registered."""
    return AGENT_TYPES.get(name)
