"""What the state machine asks of the agent function for one step of a run (an :class:`AgentTask`):
run it, or record that it waits for a human.

Running a step records it: started (one transaction: the step put, the thread checked active with
this run current), its agent's work, then completed with its artifacts or failed with its error
(one transaction: the step and its thread's touch). Two write requests and one Task state per step
(docs/architecture.md, "The workflow"). Every record is idempotent: a replayed task finds its step
and carries on from where it is; and none is made on a thread closed or on a run no longer current
(:class:`ThreadClosed`, which fails the run).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from threadline.models.workflow import AgentInput, AgentTask, PlannedStep, PreviousStep, StepOutcome
from threadline.store.items import step_from_item
from threadline.store.steps import StepRecord, StepStore, ThreadClosed
from threadline.timeutil import now_iso
from threadline.workflow.agent_types import agent_type
from threadline.workflow.agents import run_agent

ContextLoader = Callable[[str, str, str], "dict[str, Any] | None"]  # (org, context type, context id)


class StepFailed(Exception):
    """A step's agent failed (the step records its error). Raised out of the agent function, it
    fails the run."""


def run_step(task: AgentTask, *, steps: StepStore, load_context: ContextLoader) -> dict[str, Any]:
    """Run one step of a run and record it; ``{"skipped": true}`` when its condition does not hold.

    An interrupt step comes here when its run does not wait for a human (``interrupt_policy``
    ``auto_approve`` or ``skip``): it is recorded decided by the policy, in one write.
    """
    if task.run is None:  # an execution started before runs records the step itself
        return _legacy_outcome(task, steps, load_context).model_dump()
    run, step = task.run, task.step
    previous = _previous(steps.run_step_items(task.thread.org_id, task.thread.id, run.seq))
    if not _holds(step, previous):
        return {"skipped": True}
    if step.type == "interrupt":
        _decide_by_policy(task, previous, steps)
        return {}
    existing = steps.start(task.thread, run, step, now_iso())
    if existing is not None:  # a replayed task: carry on from where the step is
        status = existing.get("status")
        if status == "completed":
            return {}
        if status == "failed":
            raise StepFailed(f"step {step.name} failed")
        if status != "running":
            raise ThreadClosed(f"step {step.name} was {status}")
    try:
        outcome = _outcome(task, load_context, previous)
    except Exception as error:
        message = str(error) or type(error).__name__
        failure = json.dumps({"Error": type(error).__name__, "Cause": message})
        steps.finish(task.thread, run, step, StepRecord("failed", error_json=failure), now_iso())
        raise StepFailed(f"step {step.name} failed: {message}") from error
    record = StepRecord("completed", artifacts_json=outcome.artifacts_json, output_json=outcome.output_json)
    steps.finish(task.thread, run, step, record, now_iso())
    return {}


def wait_for_human(task: AgentTask, *, steps: StepStore, send_skip: Callable[[str], None]) -> None:
    """Record the step ``waiting`` with its task token and the thread ``interrupted``; a step whose
    condition does not hold is not recorded, and its task is told so at once (``send_skip``)."""
    if task.token is None:
        raise ValueError("a wait task carries the task token")
    if task.run is None:  # an execution started before runs
        steps.wait_for_human(task.thread.org_id, task.thread.id, task.step, task.token)
        return
    previous = _previous(steps.run_step_items(task.thread.org_id, task.thread.id, task.run.seq))
    if not _holds(task.step, previous):
        send_skip(task.token)
        return
    steps.start_waiting(task.thread, task.run, task.step, task.token, now_iso())


def check_condition(task: AgentTask, *, steps: StepStore) -> bool:
    """Whether the step's condition holds (for an execution started before runs)."""
    previous = _previous(steps.run_step_items(task.thread.org_id, task.thread.id, 0))
    return _holds(task.step, previous)


def _decide_by_policy(task: AgentTask, previous: dict[str, PreviousStep], steps: StepStore) -> None:
    """Record an interrupt step decided by its run's policy, in one write: ``auto_approve`` takes the
    step's proposed decision, ``skip`` records that no one decided."""
    run, step = task.run, task.step
    if run is None or run.interrupt_policy == "manual":  # the plan sends a manual run's interrupts to the wait
        raise ValueError(f"step {step.name} waits for a person: it is no task for the agent function to decide")
    if run.interrupt_policy == "skip":
        record = StepRecord(
            "completed", artifacts_json="[]", output_json=json.dumps({"skipped": True}), resolution="skipped"
        )
    else:
        decision = _proposed(task, previous)
        if decision is None:
            failure = json.dumps(
                {"Error": "NoProposal", "Cause": f"step {step.name} has no proposed decision to auto-approve"}
            )
            record = StepRecord("failed", error_json=failure)
        else:
            artifact = {
                "title": _label(step),
                "type": "human_decision",
                "summary": f"{decision}, proposed by {step.proposal.step if step.proposal else 'the agent'}"
                " and approved by the run's interrupt policy",
                "confidence": 1.0,
                "content": {"decision": decision, "note": None, "reviewer": None, "policy": "auto_approve"},
            }
            record = StepRecord(
                "completed",
                artifacts_json=json.dumps([artifact], separators=(",", ":")),
                output_json=json.dumps({"decision": decision}, separators=(",", ":")),
                resolution="auto_approved",
            )
    existing = steps.record_decided(task.thread, run, step, record, now_iso())
    if record.status == "failed" or (existing is not None and existing.get("status") == "failed"):
        raise StepFailed(f"step {step.name} failed: no proposed decision to auto-approve")


def _proposed(task: AgentTask, previous: dict[str, PreviousStep]) -> str | None:
    step = task.step
    if step.proposal is None:
        return None
    source = previous.get(step.proposal.step)
    value = source.output.get(step.proposal.key) if source is not None and source.status == "completed" else None
    definition = agent_type(task.thread.type)
    allowed = next((d.decisions for d in definition.steps if d.name == step.name), ()) if definition else ()
    return value if isinstance(value, str) and value in allowed else None


def _label(step: PlannedStep) -> str:
    label = step.item.get("label", {}).get("S")
    return str(label) if label else "Human decision"


def _holds(step: PlannedStep, previous: dict[str, PreviousStep]) -> bool:
    """Whether the step's condition holds over an earlier step's output (a step without one runs)."""
    condition = step.condition
    if condition is None:
        return True
    earlier = previous.get(condition.step)
    return (
        earlier is not None and earlier.status == "completed" and earlier.output.get(condition.key) == condition.equals
    )


def _outcome(task: AgentTask, load_context: ContextLoader, previous: dict[str, PreviousStep]) -> StepOutcome:
    """Run the step's agent over the thread's context and the run's earlier steps' results."""
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
        previous=previous,
        input=dict(task.run.input or {}) if task.run is not None else {},
        load_context=lambda context_type, context_id: load_context(org_id, context_type, context_id),
    )
    result = run_agent(task.step.agent, agent_input)
    return StepOutcome(
        artifacts_json=json.dumps(result.artifacts, separators=(",", ":")),
        output_json=json.dumps(result.output, separators=(",", ":")),
    )


def _legacy_outcome(task: AgentTask, steps: StepStore, load_context: ContextLoader) -> StepOutcome:
    previous = _previous(steps.run_step_items(task.thread.org_id, task.thread.id, 0))
    return _outcome(task, load_context, previous)


def _previous(items: list[dict[str, Any]]) -> dict[str, PreviousStep]:
    previous = {}
    for item in items:
        step = step_from_item(item)
        previous[step.name] = PreviousStep(
            name=step.name,
            id=step.id,
            status=step.status,
            artifacts=[artifact.model_dump() for artifact in step.artifacts],
            output=step.output or {},
        )
    return previous
