"""A page of a thread's steps."""

from __future__ import annotations

from threadline.logic.get_thread import visible_thread
from threadline.models.domain import Step, Tenant
from threadline.store.steps import StepStore
from threadline.store.threads import ThreadStore


def list_steps(
    tenant: Tenant, thread_id: str, limit: int, cursor: str | None, *, store: ThreadStore, steps: StepStore
) -> tuple[list[Step], str | None]:
    """The tenant's thread's steps from ``cursor`` on, and the next cursor (None at the end)."""
    visible_thread(tenant, thread_id, store, with_steps=False)
    return steps.page(tenant.org_id, thread_id, limit, cursor)
