"""Cancel a thread: stop its workflow."""

from __future__ import annotations

from threadline.errors import ConflictError
from threadline.logic.get_thread import visible_thread
from threadline.models.domain import ACTIVE_STATUSES, Tenant, Thread
from threadline.store.steps import StepStore
from threadline.store.threads import ThreadStore
from threadline.timeutil import now_iso
from threadline.workflow.executions import WorkflowRunner

_ATTEMPTS = 5


def cancel_thread(
    tenant: Tenant, thread_id: str, *, store: ThreadStore, steps: StepStore, runner: WorkflowRunner
) -> Thread:
    """Mark an active thread ``cancelled``, with its running and waiting steps, and stop its
    execution; a finished one is a 409.

    The thread and its open steps close in one transaction, stamped with one moment, from the
    version read: the answer and every later read show no open step, and ``updated_at`` is the
    last change. The workflow's own writes (conditional on the thread being active) can never
    undo it; a step written meanwhile moves the version on, and the cancel reads again.
    """
    for _ in range(_ATTEMPTS):
        thread, execution_name = visible_thread(tenant, thread_id, store, with_steps=False)
        if thread.status not in ACTIVE_STATUSES:
            raise ConflictError(f"Thread {thread_id} has already finished ({thread.status})", "id")
        cause = {"Error": "ThreadCancelled", "Cause": "The thread was cancelled"}
        if steps.finish_thread(tenant.org_id, thread_id, "cancelled", thread.version, now_iso(), cause):
            # The cancellation is committed: an error now would make the caller's retry a 409.
            runner.try_stop(execution_name)
            return store.get(tenant.org_id, thread_id, strict=False)[0]
    raise ConflictError("The thread kept changing while being cancelled; try again")
