"""List a tenant's threads."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from threadline.errors import InvalidParameterError
from threadline.models.domain import Tenant
from threadline.models.limits import check_metadata
from threadline.store.keys import SortField
from threadline.store.threads import PageRequest, ThreadFilter, ThreadPage, ThreadStore


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


def parse_metadata_filter(raw: str | None, parameter: str = "metadata") -> dict[str, Any]:
    """A ``metadata`` query value: a JSON object whose values are scalars to match exactly."""
    if raw is None:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as error:
        raise InvalidParameterError(f"{parameter} must be a JSON object", parameter) from error
    if not isinstance(parsed, dict):
        raise InvalidParameterError(f"{parameter} must be a JSON object", parameter)
    try:
        check_metadata(parsed)
    except ValueError as error:
        raise InvalidParameterError(f"{parameter} filter: {error}", parameter) from error
    for key, value in parsed.items():
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidParameterError(
                f"{parameter} filter values must be strings, numbers or booleans ('{key}' is not)", parameter
            )
    return parsed


DEFAULT_PAGE_SIZE = 10


def native_query(
    tenant: Tenant,
    *,
    page: int | None,
    per_page: int | None,
    limit: int | None,
    cursor: str | None,
    business_id: str | None,
    context_type: str | None,
    context_id: str | None,
    agent_type: str | None,
    status: str | None,
    project_id: str | None,
    metadata: str | None,
    include_deleted: bool,
    sort: SortField,
    direction: str,
) -> tuple[ThreadFilter, PageRequest]:
    """The filter and window of a ``GET /v1/threads`` query (Middesk paging or cursor paging)."""
    if cursor is not None and (page is not None or per_page is not None):
        raise InvalidParameterError("cursor pages with limit; page pages with per_page: use one or the other", "cursor")
    if limit is not None and (page is not None or per_page is not None):
        raise InvalidParameterError("limit pages with cursor; page pages with per_page: use one or the other", "limit")
    if business_id is not None and (context_type is not None or context_id is not None):
        raise InvalidParameterError("give either business_id or context_type and context_id", "business_id")
    if (context_type is None) != (context_id is None):
        missing, given = ("context_id", "context_type") if context_id is None else ("context_type", "context_id")
        raise InvalidParameterError(f"{missing} is required with {given}", missing)
    context = ("business", business_id) if business_id is not None else None
    if context_type is not None and context_id is not None:
        context = (context_type, context_id)
    size = per_page or limit or DEFAULT_PAGE_SIZE
    wanted = ThreadFilter(
        org_id=tenant.org_id,
        project_id=project_id,
        status=status,
        type=agent_type,
        context=context,
        metadata=parse_metadata_filter(metadata),
        include_deleted=include_deleted,
    )
    window = PageRequest(
        sort=sort,
        descending=direction == "desc",
        limit=size,
        offset=((page or 1) - 1) * size,
        cursor=cursor,
        # Counting reads every matching index entry: Middesk-style paging pays for it,
        # cursor paging (our extension, meant for any scale) does not.
        with_total=limit is None and cursor is None,
    )
    return wanted, window


def agentuity_query(
    tenant: Tenant,
    *,
    limit: int | None,
    count: int | None,
    offset: int,
    sort: str,
    direction: str,
    org_id: str | None,
    project_id: str | None,
    metadata: str | None,
) -> tuple[ThreadFilter, PageRequest]:
    """The filter and window of a ``GET /thread`` query (``count`` is the old name of ``limit``)."""
    if limit is not None and count is not None and limit != count:
        raise InvalidParameterError("limit and its old alias count disagree; give one", "count")
    wanted = ThreadFilter(
        org_id=org_id if org_id is not None else tenant.org_id,
        project_id=project_id,
        metadata=parse_metadata_filter(metadata),
    )
    window = PageRequest(
        sort="updated_at" if sort == "updated" else "created_at",
        descending=direction == "desc",
        limit=limit or count or DEFAULT_PAGE_SIZE,
        offset=offset,
    )
    return wanted, window
