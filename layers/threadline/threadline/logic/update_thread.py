"""Change a thread's metadata and user data (PATCH)."""

from __future__ import annotations

import time
from typing import Any

from threadline.errors import ConflictError, InvalidParameterError, PreconditionFailedError
from threadline.logic.get_thread import visible_thread
from threadline.models.domain import Tenant, Thread, ThreadChange
from threadline.models.limits import check_metadata
from threadline.store.threads import ThreadStore
from threadline.timeutil import backoff, now_iso

_ATTEMPTS = 10
_BACKOFF_SECONDS = 0.01  # a lost race waits up to this many seconds times the attempts made, at random


def update_thread(
    tenant: Tenant, thread_id: str, change: ThreadChange, if_match: frozenset[int] | None, *, store: ThreadStore
) -> Thread:
    """Merge ``change`` into the thread: each given metadata key replaces its value (``null``
    removes it; ``"metadata": null`` removes them all), a given ``user_data`` replaces it.

    The write is conditional on the version read. With ``if_match`` the caller names the
    versions it accepts (the one it saw), and any other is a 412. Without it a racing change is merged into (the
    thread is read again), so no update is ever lost. A change that changes nothing writes
    nothing.
    """
    for attempt in range(_ATTEMPTS):
        thread, _ = visible_thread(tenant, thread_id, store)
        if if_match is not None and thread.version not in if_match:
            raise PreconditionFailedError(
                f"Thread {thread_id} is at version {thread.version}, which If-Match does not name: read it again",
                "If-Match",
            )
        metadata = _merged(thread.metadata, change) if change.sets_metadata else thread.metadata
        user_data = change.user_data if change.sets_user_data else thread.user_data
        # (user data that cannot be decrypted is replaced by any given value, null included)
        user_data_changed = change.sets_user_data and (user_data != thread.user_data or thread.user_data_unreadable)
        if metadata == thread.metadata and not user_data_changed:
            return thread
        updated = thread.model_copy(
            update={
                "metadata": metadata,
                "user_data": user_data,
                "updated_at": now_iso(),
                "version": thread.version + 1,
                "user_data_unreadable": thread.user_data_unreadable and not user_data_changed,
            }
        )
        if store.update(updated, expected_version=thread.version, user_data_changed=user_data_changed):
            return updated
        time.sleep(backoff(_BACKOFF_SECONDS * (attempt + 1)))  # let the racing writers pass
    raise ConflictError("The thread kept changing while being updated; try again")


def _merged(current: dict[str, Any] | None, change: ThreadChange) -> dict[str, Any] | None:
    if change.metadata is None:
        return None
    merged = {**(current or {})}
    for key, value in change.metadata.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    try:
        check_metadata(merged)
    except ValueError as error:
        raise InvalidParameterError(f"{error} (after the merge)", "metadata") from None
    return merged or None
