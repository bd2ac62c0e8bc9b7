"""The native list queries (``GET /v1/threads``, ``GET /v1/runs``): Middesk's page/per_page, or
limit/cursor, and filters."""

from __future__ import annotations

from threadline.errors import InvalidParameterError
from threadline.models.domain import Tenant
from threadline.models.listing import (
    DEFAULT_PAGE_SIZE,
    PageRequest,
    RunFilter,
    SortField,
    ThreadFilter,
    parse_metadata_filter,
)


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
    window = page_window(page=page, per_page=per_page, limit=limit, cursor=cursor, sort=sort, direction=direction)
    if business_id is not None and (context_type is not None or context_id is not None):
        raise InvalidParameterError("give either business_id or context_type and context_id", "business_id")
    if (context_type is None) != (context_id is None):
        missing, given = ("context_id", "context_type") if context_id is None else ("context_type", "context_id")
        raise InvalidParameterError(f"{missing} is required with {given}", missing)
    context = ("business", business_id) if business_id is not None else None
    if context_type is not None and context_id is not None:
        context = (context_type, context_id)
    wanted = ThreadFilter(
        org_id=tenant.org_id,
        project_id=project_id,
        status=status,
        type=agent_type,
        context=context,
        metadata=parse_metadata_filter(metadata),
        include_deleted=include_deleted,
    )
    return wanted, window


def native_run_query(
    tenant: Tenant,
    *,
    page: int | None,
    per_page: int | None,
    limit: int | None,
    cursor: str | None,
    thread_id: str | None,
    status: str | None,
    agent: str | None,
    sort: SortField,
    direction: str,
) -> tuple[RunFilter, PageRequest]:
    """The filter and window of a ``GET /v1/runs`` query (paging as ``GET /v1/threads``)."""
    window = page_window(page=page, per_page=per_page, limit=limit, cursor=cursor, sort=sort, direction=direction)
    return RunFilter(org_id=tenant.org_id, thread_id=thread_id, status=status, agent=agent), window


def page_window(
    *, page: int | None, per_page: int | None, limit: int | None, cursor: str | None, sort: SortField, direction: str
) -> PageRequest:
    """The order and window of a native list: Middesk paging (page/per_page, counted) or cursor
    paging (limit/cursor), never both."""
    if cursor is not None and (page is not None or per_page is not None):
        raise InvalidParameterError("cursor pages with limit; page pages with per_page: use one or the other", "cursor")
    if limit is not None and (page is not None or per_page is not None):
        raise InvalidParameterError("limit pages with cursor; page pages with per_page: use one or the other", "limit")
    size = per_page or limit or DEFAULT_PAGE_SIZE
    return PageRequest(
        sort=sort,
        descending=direction == "desc",
        limit=size,
        offset=((page or 1) - 1) * size,
        cursor=cursor,
        # Counting reads every matching index entry: Middesk-style paging pays for it,
        # cursor paging (our extension, meant for any scale) does not.
        with_total=limit is None and cursor is None,
    )
