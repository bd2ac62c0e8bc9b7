"""What the state machine asks of the agent function for one step (an :class:`AgentTask`):
run the step's agent, check the step's condition, or record that it waits for a human."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from threadline.models.workflow import AgentInput, AgentTask, PreviousStep, StepOutcome
from threadline.store.steps import StepStore
from threadline.workflow.agents import run_agent

ContextLoader = Callable[[str, str, str], "dict[str, Any] | None"]  # (org, context type, context id)


def run_step(task: AgentTask, *, steps: StepStore, load_context: ContextLoader) -> StepOutcome:
    """Run the step's agent over the thread's context and the earlier steps' results.

    Returns the artifacts and output as JSON strings, which the state machine
    writes onto the step as they are. An agent's exception fails the step.
    """
    thread = task.thread
    org_id = thread.org_id
    context = load_context(org_id, thread.context_type, thread.context_id) or {}
    agent_input = AgentInput(
        thread_id=thread.id,
        org_id=org_id,
        step_name=task.step.name,
        context_type=thread.context_type,
        context_id=thread.context_id,
        context=context,
        previous=_previous(steps, org_id, thread.id),
        load_context=lambda context_type, context_id: load_context(org_id, context_type, context_id),
    )
    result = run_agent(task.step.agent, agent_input)
    return StepOutcome(
        artifacts_json=json.dumps(result.artifacts, separators=(",", ":")),
        output_json=json.dumps(result.output, separators=(",", ":")),
    )


def check_condition(task: AgentTask, *, steps: StepStore) -> bool:
    """Whether the step's condition holds over an earlier step's output (a step without one runs)."""
    condition = task.step.condition
    if condition is None:
        return True
    earlier = _previous(steps, task.thread.org_id, task.thread.id).get(condition.step)
    return (
        earlier is not None and earlier.status == "completed" and earlier.output.get(condition.key) == condition.equals
    )


def wait_for_human(task: AgentTask, *, steps: StepStore) -> None:
    """Record the step ``waiting`` with its task token and the thread ``interrupted``."""
    if task.token is None:
        raise ValueError("a wait task carries the task token")
    steps.wait_for_human(task.thread.org_id, task.thread.id, task.step, task.token)


def _previous(steps: StepStore, org_id: str, thread_id: str) -> dict[str, PreviousStep]:
    return {
        step.name: PreviousStep(
            name=step.name,
            id=step.id,
            status=step.status,
            artifacts=[artifact.model_dump() for artifact in step.artifacts],
            output=step.output or {},
        )
        for step in steps.steps(org_id, thread_id)
    }
