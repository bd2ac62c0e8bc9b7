"""Bring a thread in line with how its execution ended, so it never stays running."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from threadline.logic.cancel_thread import unstarted_steps
from threadline.models.domain import ACTIVE_STATUSES, ThreadStatus
from threadline.models.workflow import ExecutionInput
from threadline.store.items import thread_from_header
from threadline.store.steps import StepStore
from threadline.store.thread_status import ThreadStatusStore
from threadline.timeutil import now_iso

_ATTEMPTS = 5

# Execution status → (thread status, status of steps left open)
_FINAL: dict[str, tuple[ThreadStatus, str]] = {
    "FAILED": ("failed", "failed"),
    "TIMED_OUT": ("failed", "failed"),
    "ABORTED": ("cancelled", "cancelled"),
}


def correlation_of(detail: dict[str, Any]) -> str | None:
    """The correlation id of the request that started the execution (its input's run carries it)."""
    try:
        return ExecutionInput.model_validate_json(detail.get("input") or "{}").run.correlation_id
    except ValidationError:
        return None


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
    at = now_iso()
    for _ in range(_ATTEMPTS):
        header = statuses.header(thread.org_id, thread.id)
        if (
            header is None
            or header.get("execution_name", thread.id) != run_id
            or header["status"] not in ACTIVE_STATUSES
        ):
            # The thread is gone, runs another run, or is finished: only this run's open steps close.
            left = steps.close_open_steps(thread.org_id, thread.id, step_status, error, run_id=run_id)
            return {"changed": False, "thread_status": None, "closed_steps": left}
        current = thread_from_header(header)
        # One transaction, as a cancel: the thread's move (this run still current, the version read)
        # with its open steps, checking the run's steps not started are still absent (a task still
        # in flight may start one meanwhile).
        closed = steps.finish_thread(
            thread.org_id,
            thread.id,
            thread_status,
            current.version,
            at,
            error,
            unstarted_steps(current),
            run_id=run_id,
        )
        if closed is not None:
            return {"changed": True, "thread_status": thread_status, "closed_steps": closed}
    raise RuntimeError(f"thread {thread.id} kept changing while its run {run_id} was reconciled")
