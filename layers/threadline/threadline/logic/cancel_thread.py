"""Cancel a thread: stop its workflow."""

from __future__ import annotations

from threadline.errors import ConflictError
from threadline.logic.get_thread import visible_thread
from threadline.models.domain import ACTIVE_STATUSES, Tenant, Thread
from threadline.store.thread_status import ThreadStatusStore
from threadline.store.threads import ThreadStore
from threadline.workflow.executions import WorkflowRunner


def cancel_thread(
    tenant: Tenant, thread_id: str, *, store: ThreadStore, statuses: ThreadStatusStore, runner: WorkflowRunner
) -> Thread:
    """Mark an active thread ``cancelled`` and stop its execution; a finished one is a 409.

    The thread is marked first, so the workflow's own final write (conditional
    on the thread being active) can never undo the cancellation; the open
    steps are closed when the execution's end is reconciled.
    """
    thread, execution_name = visible_thread(tenant, thread_id, store, with_steps=False)
    if thread.status not in ACTIVE_STATUSES or not statuses.move(tenant.org_id, thread_id, "cancelled"):
        raise ConflictError(f"Thread {thread_id} has already finished ({thread.status})", "id")
    runner.stop(execution_name)
    return store.get(tenant.org_id, thread_id)[0]
