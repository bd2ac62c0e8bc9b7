"""A human's decision on a waiting interrupt step, which resumes the workflow."""

from __future__ import annotations

import json

from threadline.errors import ConflictError, InvalidParameterError
from threadline.logic.get_thread import visible_thread
from threadline.models.domain import Decision, Tenant, Thread
from threadline.models.workflow import StepOutcome
from threadline.store.steps import StepStore
from threadline.store.threads import ThreadStore
from threadline.workflow.agent_types import agent_type
from threadline.workflow.executions import WorkflowRunner


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

    A step that is not waiting (unknown, not an interrupt, finished, already
    resolved) is a 409; a decision the step does not accept is a 400.
    """
    thread, _ = visible_thread(tenant, thread_id, store)
    step = next((s for s in thread.steps if s.id == step_id), None)
    if step is None or step.type != "interrupt" or step.status != "waiting":
        raise ConflictError(f"Step {step_id} of this thread is not waiting for a decision", "step_id")
    definition = agent_type(thread.type)
    allowed = next((d.decisions for d in definition.steps if d.name == step.name), ()) if definition else ()
    if request.decision not in allowed:
        raise InvalidParameterError(f"decision must be one of: {', '.join(allowed)}", "decision")

    claimed, token = steps.claim_waiting_step(tenant.org_id, thread_id, step_id)
    artifact = {
        "title": claimed.label or "Human decision",
        "type": "human_decision",
        "summary": f"{request.decision} by {tenant.key_name or tenant.key_id}",
        "confidence": 1.0,
        "content": {"decision": request.decision, "note": request.note, "reviewer": tenant.key_id},
    }
    sent = runner.send_decision(
        token,
        StepOutcome(
            artifacts_json=json.dumps([artifact], separators=(",", ":")),
            output_json=json.dumps({"decision": request.decision}, separators=(",", ":")),
        ),
    )
    if not sent:
        raise ConflictError(f"Step {step_id} timed out before the decision arrived", "step_id")
    return store.get(tenant.org_id, thread_id)[0]
