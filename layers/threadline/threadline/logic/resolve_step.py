"""A human's decision on a waiting interrupt step, which resumes the workflow."""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger

from threadline import faults
from threadline.errors import ConflictError, InvalidParameterError, NotFoundError
from threadline.logic.get_thread import visible_thread
from threadline.models.domain import Decision, Step, Tenant, Thread
from threadline.models.workflow import StepOutcome
from threadline.store.steps import StepStore
from threadline.store.threads import ThreadStore
from threadline.workflow.agent_types import agent_type
from threadline.workflow.executions import WorkflowRunner

logger = Logger(service="threadline")


def resolve_step(
    tenant: Tenant,
    thread_id: str,
    step_id: str,
    request: Decision,
    *,
    store: ThreadStore,
    steps: StepStore,
    runner: WorkflowRunner,
) -> Thread:
    """Record ``request``'s decision on the waiting step and resume the thread's workflow.

    A step the thread does not have is a 404; one that is not waiting (not an interrupt,
    finished, already resolved) is a 409; a decision the step does not accept is a 400.
    """
    thread, _ = visible_thread(tenant, thread_id, store)
    step = waiting_step(thread, step_id, "step_id")
    answer_interrupt(tenant, thread, step, decision_outcome(tenant, thread, step, request), steps=steps, runner=runner)
    return store.get(tenant.org_id, thread_id, strict=False)[0]


def waiting_step(thread: Thread, step_id: str, parameter: str) -> Step:
    """The thread's interrupt step ``step_id``, waiting for a person: else 404 (no such step) or 409."""
    step = next((s for s in thread.steps if s.id == step_id), None)
    if step is None:
        raise NotFoundError(f"No step with id {step_id[:64]} on this thread", parameter)
    if step.type != "interrupt" or step.status != "waiting":
        raise ConflictError(f"Step {step_id} of this thread is not waiting for a decision", parameter)
    return step


def allowed_decisions(thread: Thread, step: Step) -> tuple[str, ...]:
    """The decisions the thread's agent type lets a person give ``step``."""
    definition = agent_type(thread.type)
    return next((d.decisions for d in definition.steps if d.name == step.name), ()) if definition else ()


def decision_outcome(tenant: Tenant, thread: Thread, step: Step, request: Decision) -> StepOutcome:
    """What a person's decision leaves on the step: a ``human_decision`` artifact naming the
    reviewer, and the decision as output (400 for a decision the step does not accept)."""
    allowed = allowed_decisions(thread, step)
    if request.decision not in allowed:
        raise InvalidParameterError(f"decision must be one of: {', '.join(allowed)}", "decision")
    artifact = {
        "title": step.label or "Human decision",
        "type": "human_decision",
        "summary": f"{request.decision} by {tenant.key_name or tenant.key_id}",
        "confidence": 1.0,
        "content": {"decision": request.decision, "note": request.note, "reviewer": tenant.key_id},
    }
    return StepOutcome(
        artifacts_json=json.dumps([artifact], separators=(",", ":")),
        output_json=json.dumps({"decision": request.decision}, separators=(",", ":")),
    )


def answer_interrupt(
    tenant: Tenant, thread: Thread, step: Step, outcome: StepOutcome, *, steps: StepStore, runner: WorkflowRunner
) -> None:
    """Take the waiting step's task token (once), set the thread running again and send ``outcome``
    to the waiting run, which records it on the step. 409 when the step stopped waiting meanwhile."""
    claimed, token = steps.claim_waiting_step(tenant.org_id, thread.id, step.id)
    try:
        sent = runner.send_decision(token, outcome)
    except Exception as error:
        if faults.may_have_taken_effect(error) and not _still_waiting(runner, token):
            sent = True  # the call timed out after the decision had arrived
        else:
            # Not delivered: the step takes its token back, so the caller's retry (503 with
            # Retry-After when a retry may succeed) can send the decision again.
            _release(steps, tenant, thread.id, claimed.id, token)
            raise
    if not sent:
        raise ConflictError(f"Step {step.id} timed out before the decision arrived", "step_id")


def _still_waiting(runner: WorkflowRunner, token: str) -> bool:
    """Whether the task still waits for a decision; True when Step Functions cannot say (then the
    step is given back its token: a decision lost is worse than one sent twice, which is refused)."""
    try:
        return runner.still_waiting(token)
    except Exception as error:
        logger.warning("could not learn whether the decision arrived", extra=faults.describe(error))
        return True


def _release(steps: StepStore, tenant: Tenant, thread_id: str, step_id: str, token: str) -> None:
    try:
        steps.release_claim(tenant.org_id, thread_id, step_id, token)
    except Exception as error:
        logger.error(
            "a decision was neither sent nor given back: the step waits until its timeout",
            extra={"thread_id": thread_id, "step_id": step_id, **faults.describe(error)},
        )
