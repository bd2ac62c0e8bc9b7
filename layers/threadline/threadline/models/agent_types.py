"""What an agent type is: a named workflow of steps (the registry of them: ``workflow.agent_types``)."""

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
class Proposal:
    """An interrupt step's proposed decision: ``key`` of the earlier step ``step``'s output. A run
    with ``interrupt_policy: auto_approve`` takes it in place of a human's."""

    step: str
    key: str


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
    # The decisions a human may give an interrupt step, and where its proposed one is.
    decisions: tuple[str, ...] = ("approve", "reject")
    proposal: Proposal | None = None


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
