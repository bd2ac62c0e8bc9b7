"""What the state machine asks of the agent function: run a step's agent, check a
step's condition, or record that a step waits for a human."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from threadline.agents.base import AgentInput, PreviousStep
from threadline.agents.registry import run_agent
from threadline.store.steps import StepStore

ContextLoader = Callable[[str, str, str], "dict[str, Any] | None"]  # (org, context type, context id)


def run_step(event: dict[str, Any], *, steps: StepStore, load_context: ContextLoader) -> dict[str, str]:
    """Run the step's agent over the thread's context and the earlier steps' results.

    Returns the artifacts and output as JSON strings, which the state machine
    writes onto the step as they are. An agent's exception fails the step.
    """
    thread, step = event["thread"], event["step"]
    org_id = thread["org_id"]
    context = load_context(org_id, thread["context_type"], thread["context_id"]) or {}
    agent_input = AgentInput(
        thread_id=thread["id"],
        org_id=org_id,
        step_name=step["name"],
        context_type=thread["context_type"],
        context_id=thread["context_id"],
        context=context,
        previous=_previous(steps, org_id, thread["id"]),
        load_context=lambda context_type, context_id: load_context(org_id, context_type, context_id),
    )
    result = run_agent(step["agent"], agent_input)
    return {
        "artifacts_json": json.dumps(result.artifacts, separators=(",", ":")),
        "output_json": json.dumps(result.output, separators=(",", ":")),
    }


def check_condition(event: dict[str, Any], *, steps: StepStore) -> dict[str, bool]:
    """``{"run": true}`` when the step's condition holds over an earlier step's output."""
    thread, condition = event["thread"], event["step"]["condition"]
    earlier = _previous(steps, thread["org_id"], thread["id"]).get(condition["step"])
    run = (
        earlier is not None
        and earlier.status == "completed"
        and earlier.output.get(condition["key"]) == condition["equals"]
    )
    return {"run": run}


def wait_for_human(event: dict[str, Any], *, steps: StepStore) -> dict[str, str]:
    """Record the step ``waiting`` with its task token and the thread ``interrupted``."""
    thread, step = event["thread"], event["step"]
    steps.wait_for_human(thread["org_id"], thread["id"], step["key"]["sk"]["S"], event["token"])
    return {"status": "waiting"}


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
