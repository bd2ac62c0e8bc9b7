"""Wire shapes of ``GET /v1/agents``: the registered agent types and their steps."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from threadline.models.agent_types import AgentType, StepDefinition


class AgentStepConditionOut(BaseModel):
    """A step runs only when an earlier step's output has ``key`` equal to ``equals``."""

    step: str
    key: str
    equals: str | int | bool


class AgentStepOut(BaseModel):
    """One step an agent type takes, in the order of its definition."""

    name: str
    label: str
    agent: str = Field(description="The agent that runs the step; 'human' for an interrupt step.")
    type: Literal["activity", "interrupt"]
    parent: str | None = Field(description="The step this one is a child of (its parent_step_id on a thread).")
    parallel_group: str | None = Field(description="Consecutive steps of the same group run at the same time.")
    when: AgentStepConditionOut | None = Field(default=None, description="Runs only when this holds.")
    timeout_seconds: int | None = Field(
        default=None, description="How long an interrupt step waits for a human decision; null for activities."
    )
    decisions: list[str] | None = Field(
        default=None, description="The decisions a human may give an interrupt step; null for activities."
    )

    @classmethod
    def from_step(cls, step: StepDefinition) -> AgentStepOut:
        """Shape a step definition (fields the registry does not define are left out)."""
        when = getattr(step, "when", None)
        interrupt = step.type == "interrupt"
        decisions = list(getattr(step, "decisions", None) or ()) if interrupt else []
        return cls(
            name=step.name,
            label=step.label,
            agent=step.agent,
            type=step.type,
            parent=getattr(step, "parent", None),
            parallel_group=getattr(step, "parallel_group", None),
            when=AgentStepConditionOut(step=when.step, key=when.key, equals=when.equals) if when else None,
            timeout_seconds=getattr(step, "timeout_seconds", None) if interrupt else None,
            decisions=decisions or None,
        )


class AgentOut(BaseModel):
    """A registered agent type."""

    object: Literal["agent"] = "agent"
    name: str = Field(description="The value of `type` when creating a thread.")
    description: str
    context_types: list[str] = Field(description="The context types its threads work on.")
    steps: list[AgentStepOut]

    @classmethod
    def from_agent_type(cls, agent: AgentType) -> AgentOut:
        """Shape an agent type of the registry."""
        return cls(
            name=agent.name,
            description=agent.description,
            context_types=list(agent.context_types),
            steps=[AgentStepOut.from_step(step) for step in agent.steps],
        )


class AgentListOut(BaseModel):
    """Reply of ``GET /v1/agents``."""

    object: Literal["list"] = "list"
    data: list[AgentOut]

    @classmethod
    def from_agent_types(cls, agents: list[AgentType]) -> AgentListOut:
        """Shape the registered agent types."""
        return cls(data=[AgentOut.from_agent_type(agent) for agent in agents])
