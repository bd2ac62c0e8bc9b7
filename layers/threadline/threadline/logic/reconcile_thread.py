"""Bring a thread in line with how its execution ended, so it never stays running."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from threadline.models.domain import ThreadStatus
from threadline.models.workflow import ExecutionInput
from threadline.store.steps import StepStore
from threadline.store.thread_status import ThreadStatusStore

# Execution status → (thread status, status of steps left open)
_FINAL: dict[str, tuple[ThreadStatus, str]] = {
    "FAILED": ("failed", "failed"),
    "TIMED_OUT": ("failed", "failed"),
    "ABORTED": ("cancelled", "cancelled"),
}


def reconcile_thread(detail: dict[str, Any], *, steps: StepStore, statuses: ThreadStatusStore) -> dict[str, Any]:
    """Handle a "Step Functions Execution Status Change" event's detail.

    A thread still active after its current run's execution failed, timed out or was aborted
    becomes failed or cancelled, and the run's running or waiting steps are closed with the
    reason. Status changes are monotonic: a thread that already finished, or whose current run
    is another, is left alone, and replaying the event changes nothing.
    """
    status = detail.get("status", "")
    if status not in _FINAL:
        return {"changed": False, "reason": f"execution {status or 'status unknown'}"}
    try:
        thread = ExecutionInput.model_validate_json(detail.get("input") or "{}").thread
    except ValidationError:
        return {"changed": False, "reason": "not a Threadline execution"}
    thread_status, step_status = _FINAL[status]
    error = {
        "Error": detail.get("error") or f"Execution{status.title().replace('_', '')}",
        "Cause": detail.get("cause") or f"The workflow execution ended {status}",
    }
    run_id = str(detail.get("name") or thread.id)  # an execution is named after its run
    closed_steps = steps.close_open_steps(thread.org_id, thread.id, step_status, error, run_id=run_id)
    changed = statuses.move(thread.org_id, thread.id, thread_status, run_id=run_id)
    return {"changed": changed, "thread_status": thread_status if changed else None, "closed_steps": closed_steps}
