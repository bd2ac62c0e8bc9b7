"""Soft-delete a thread, stopping its workflow."""

from __future__ import annotations

from threadline.errors import ConflictError
from threadline.logic.cancel_thread import unstarted_steps
from threadline.logic.get_thread import visible_thread
from threadline.models.domain import ACTIVE_STATUSES, Tenant, Thread
from threadline.store.steps import StepStore
from threadline.store.threads import ThreadStore
from threadline.timeutil import format_time, now
from threadline.workflow.executions import WorkflowRunner

_ATTEMPTS = 5
_CAUSE = {"Error": "ThreadDeleted", "Cause": "The thread was deleted"}


def delete_thread(
    tenant: Tenant, thread_id: str, *, store: ThreadStore, steps: StepStore, runner: WorkflowRunner
) -> Thread:
    """Mark the thread deleted (the store purges it after the retention period); a running one
    becomes cancelled, and its running and waiting steps with it, in the same transaction and
    at the same moment (so no step is left open, and ``updated_at`` is the last change).

    The write is conditional on the version read, so a step recorded at the
    same moment is never lost; on such a race the thread is read again.
    """
    for _ in range(_ATTEMPTS):
        thread, execution_name = visible_thread(tenant, thread_id, store)
        moment = now()
        was_active = thread.status in ACTIVE_STATUSES
        deleted = thread.model_copy(
            update={
                "deleted": True,
                "deleted_at": format_time(moment),
                "deleted_by": tenant.key_id,
                "updated_at": format_time(moment),
                "status": "cancelled" if was_active else thread.status,
                "ended_at": format_time(moment) if was_active else thread.ended_at,  # its run ends with it
                "version": thread.version + 1,
            }
        )
        closing = (
            steps.close_open_step_writes(
                tenant.org_id, thread_id, "cancelled", _CAUSE, format_time(moment), unstarted=unstarted_steps(thread)
            )
            if was_active
            else []
        )
        if store.soft_delete(deleted, expected_version=thread.version, also=closing):
            if not was_active:
                return deleted
            # The deletion is committed and the thread cancelled: an error now would make the
            # caller's retry a 404. An execution left running ends harmlessly, as its writes
            # refuse a thread that is no longer active (monotonic status).
            runner.try_stop(execution_name)
            return store.get(tenant.org_id, thread_id, strict=False)[0]  # with its steps as closed
    raise ConflictError("The thread kept changing while being deleted; try again")
