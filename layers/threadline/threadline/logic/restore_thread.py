"""Undo a thread's soft delete."""

from __future__ import annotations

from threadline.errors import ConflictError, NotFoundError
from threadline.logic.get_thread import is_thread_id
from threadline.models.domain import Tenant, Thread
from threadline.store.threads import ThreadStore
from threadline.timeutil import format_time, now

_ATTEMPTS = 3


def restore_thread(tenant: Tenant, thread_id: str, *, store: ThreadStore) -> Thread:
    """Bring a deleted thread back, as it was when deleted (a thread cancelled by its deletion
    stays cancelled), within the retention period. A thread never deleted is a 409; one
    purged, due for purge, another tenant's or absent is a 404."""
    absent = NotFoundError(f"No deleted thread with id {thread_id[:64]}", "id")
    if not is_thread_id(thread_id):
        raise absent
    for _ in range(_ATTEMPTS):
        try:
            thread, _ = store.get(tenant.org_id, thread_id, strict=False)
        except NotFoundError:
            raise absent from None
        if tenant.project_id is not None and thread.project_id != tenant.project_id:
            raise absent
        if not thread.deleted:
            raise ConflictError(f"Thread {thread_id} is not deleted", "id")
        moment = now()
        if thread.purge_at is not None and thread.purge_at <= moment.timestamp():
            raise absent  # past its retention: DynamoDB's TTL is purging it
        restored = thread.model_copy(
            update={
                "deleted": False,
                "deleted_at": None,
                "deleted_by": None,
                "purge_at": None,
                "updated_at": format_time(moment),
                "version": thread.version + 1,
            }
        )
        if store.restore(restored, expected_version=thread.version):
            return restored
    raise ConflictError("The thread kept changing while being restored; try again")
