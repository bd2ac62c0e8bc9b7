"""List a tenant's threads."""

from __future__ import annotations

from dataclasses import replace

from threadline.models.domain import Tenant
from threadline.models.listing import PageRequest, ThreadFilter, ThreadPage
from threadline.store.threads import ThreadStore


def list_threads(tenant: Tenant, wanted: ThreadFilter, page: PageRequest, *, store: ThreadStore) -> ThreadPage:
    """A page of the tenant's threads matching ``wanted``.

    The filter is narrowed to the tenant: another org, or another project than
    a restricted key's, matches nothing (an empty list, never an error).
    """
    if wanted.org_id != tenant.org_id:
        return ThreadPage(threads=[], has_more=False, next_cursor=None, total_count=0)
    if tenant.project_id is not None:
        if wanted.project_id not in (None, tenant.project_id):
            return ThreadPage(threads=[], has_more=False, next_cursor=None, total_count=0)
        wanted = replace(wanted, project_id=tenant.project_id)
    return store.list_threads(wanted, page)
