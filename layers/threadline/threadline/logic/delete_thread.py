"""Soft-delete a thread, stopping its workflow."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from threadline.errors import ConflictError
from threadline.logic.get_thread import visible_thread
from threadline.models.domain import ACTIVE_STATUSES, Tenant, Thread
from threadline.store.threads import ThreadStore
from threadline.timeutil import format_time, now
from threadline.workflow.executions import WorkflowRunner

_ATTEMPTS = 3
logger = Logger(service="threadline")


def delete_thread(tenant: Tenant, thread_id: str, *, store: ThreadStore, runner: WorkflowRunner) -> Thread:
    """Mark the thread deleted (the store purges it after the retention period); a running one
    becomes cancelled.

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
                "version": thread.version + 1,
            }
        )
        if store.soft_delete(deleted, expected_version=thread.version):
            if was_active:
                try:
                    runner.stop(execution_name)
                except Exception as error:
                    # The deletion is committed and the thread cancelled: answering 500 now would make
                    # the caller's retry a 404. An execution left running ends harmlessly, as its final
                    # update refuses a thread that is no longer running (monotonic status).
                    logger.warning("could not stop the execution", extra={"error_type": type(error).__name__})
            return deleted
    raise ConflictError("The thread kept changing while being deleted; try again")
