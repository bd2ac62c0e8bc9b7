"""The registry of agent types. Adding an agent type is adding one definition
here and its agents in ``threadline.agents`` (see docs/agents.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StepType = Literal["activity", "interrupt"]


@dataclass(frozen=True)
class Condition:
    """Run a step only when an earlier step's output has ``key`` equal to ``equals``."""

    step: str
    key: str
    equals: str | int | bool


@dataclass(frozen=True)
class StepDefinition:
    """One step of an agent type's workflow.

    Consecutive steps with the same ``parallel_group`` run at the same time;
    ``parent`` names the step this one is a child of; an ``interrupt`` step waits
    for a human decision for at most ``timeout_seconds``.
    """

    name: str
    label: str
    agent: str
    type: StepType = "activity"
    parent: str | None = None
    parallel_group: str | None = None
    when: Condition | None = None
    timeout_seconds: int = 7 * 24 * 3600
    # The decisions a human may give an interrupt step.
    decisions: tuple[str, ...] = ("approve", "reject")


@dataclass(frozen=True)
class AgentType:
    """A named workflow: what it works on and which steps it takes."""

    name: str
    description: str
    context_types: tuple[str, ...]
    steps: tuple[StepDefinition, ...]

    def stages(self) -> list[list[StepDefinition]]:
        """The steps in the order they run: a stage is one step, or a parallel group."""
        stages: list[list[StepDefinition]] = []
        for step in self.steps:
            if stages and step.parallel_group is not None and stages[-1][0].parallel_group == step.parallel_group:
                stages[-1].append(step)
            else:
                stages.append([step])
        return stages


CIP_ORCHESTRATOR = AgentType(
    name="cip_orchestrator",
    description=(
        "Customer identification for a business: checks its record, TIN, address and"
        " watchlist exposure, then decides approve, review or reject; a review waits for a human."
    ),
    context_types=("business",),
    steps=(
        StepDefinition("business_record", "Business record completeness", agent="cip.business_record"),
        StepDefinition(
            "tin_check",
            "TIN format and validity",
            agent="cip.tin_check",
            parent="business_record",
            parallel_group="checks",
        ),
        StepDefinition(
            "address_check",
            "Address completeness and normalisation",
            agent="cip.address_check",
            parent="business_record",
            parallel_group="checks",
        ),
        StepDefinition(
            "watchlist_screening",
            "Watchlist name screening",
            agent="cip.watchlist_screening",
            parent="business_record",
            parallel_group="checks",
        ),
        StepDefinition("decision", "CIP decision", agent="cip.decision"),
        StepDefinition(
            "human_review",
            "Human review",
            agent="human",
            type="interrupt",
            parent="decision",
            when=Condition(step="decision", key="decision", equals="review"),
        ),
    ),
)

AGENT_TYPES: dict[str, AgentType] = {agent.name: agent for agent in (CIP_ORCHESTRATOR,)}


def agent_type(name: str) -> AgentType | None:
    """The agent type called ``name``, if registered."""
    return AGENT_TYPES.get(name)
