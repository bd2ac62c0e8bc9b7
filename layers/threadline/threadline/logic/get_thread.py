"""Read one thread."""

from __future__ import annotations

import uuid

from threadline.errors import NotFoundError
from threadline.models.domain import Tenant, Thread
from threadline.store.threads import ThreadStore


def visible_thread(
    tenant: Tenant,
    thread_id: str,
    store: ThreadStore,
    with_steps: bool = True,
    strict: bool = False,
    with_user_data: bool = True,
) -> tuple[Thread, str]:
    """The tenant's thread and its execution name; absent, deleted, or another tenant's → 404.
    User data that cannot be decrypted is an error when ``strict`` (a read of the thread); else
    the thread comes without it (a change, cancel or delete still work on it)."""
    if not is_thread_id(thread_id):
        # Never a thread's id; and DynamoDB rejects (500) a key over 2048 bytes, which a long path would make.
        raise NotFoundError(f"No thread with id {thread_id[:64]}", "id")
    thread, execution_name = store.get(
        tenant.org_id, thread_id, with_steps, strict=strict, with_user_data=with_user_data
    )
    if thread.deleted or (tenant.project_id is not None and thread.project_id != tenant.project_id):
        raise NotFoundError(f"No thread with id {thread_id}", "id")
    return thread, execution_name


def get_thread(tenant: Tenant, thread_id: str, *, store: ThreadStore) -> Thread:
    """The tenant's thread with its steps."""
    return visible_thread(tenant, thread_id, store, strict=True)[0]


def is_thread_id(value: str) -> bool:
    """Thread ids are canonical (lower-case, hyphenated) UUIDs."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
