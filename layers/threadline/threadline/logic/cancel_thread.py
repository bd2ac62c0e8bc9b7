"""Cancel a thread: stop its workflow."""

from __future__ import annotations

from threadline.errors import ConflictError
from threadline.logic.get_thread import visible_thread
from threadline.models.domain import ACTIVE_STATUSES, Tenant, Thread
from threadline.store.plan import planned_step_keys
from threadline.store.steps import StepStore
from threadline.store.threads import ThreadStore
from threadline.timeutil import now_iso
from threadline.workflow.agent_types import agent_type
from threadline.workflow.executions import WorkflowRunner

_ATTEMPTS = 5


def unstarted_steps(thread: Thread) -> list[str]:
    """The sort keys of every step the thread's current run may still start: a cancel or delete
    checks they are absent as it commits (a step's start only checks that the thread is active)."""
    agent = agent_type(thread.type)
    return planned_step_keys(thread.org_id, thread.id, agent, thread.run_seq) if agent is not None else []


def cancel_thread(
    tenant: Tenant,
    thread_id: str,
    *,
    store: ThreadStore,
    steps: StepStore,
    runner: WorkflowRunner,
    run_id: str | None = None,
) -> Thread:
    """Mark an active thread ``cancelled``, with its running and waiting steps, and stop its
    execution; a finished one is a 409 (with ``run_id``, also one whose current run is another).

    The thread and its open steps close in one transaction, stamped with one moment, from the
    version read: the answer and every later read show no open step, and ``updated_at`` is the
    last change. The workflow's own writes (conditional on the thread being active) can never
    undo it; a step that finished meanwhile moves the version on, one that started meanwhile
    fails the transaction's check that it is absent, and the cancel reads again.
    """
    for _ in range(_ATTEMPTS):
        thread, execution_name = visible_thread(tenant, thread_id, store, with_steps=False)
        if thread.status not in ACTIVE_STATUSES or run_id not in (None, thread.run_id):
            raise ConflictError(f"Thread {thread_id} has already finished ({thread.status})", "id")
        cause = {"Error": "ThreadCancelled", "Cause": "The thread was cancelled"}
        unstarted = unstarted_steps(thread)
        at = now_iso()
        closed = steps.finish_thread(
            tenant.org_id, thread_id, "cancelled", thread.version, at, cause, unstarted, run_id=thread.run_id
        )
        if closed is not None:
            # The cancellation is committed: an error now would make the caller's retry a 409.
            runner.try_stop(execution_name)
            return store.get(tenant.org_id, thread_id, strict=False)[0]
    raise ConflictError("The thread kept changing while being cancelled; try again")
