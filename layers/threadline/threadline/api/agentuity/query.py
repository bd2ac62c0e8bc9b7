"""The Agentuity list query (``GET /thread``): limit (or its old name count), offset, sort, metadata."""

from __future__ import annotations

from threadline.errors import InvalidParameterError
from threadline.models.domain import Tenant
from threadline.models.listing import DEFAULT_PAGE_SIZE, PageRequest, ThreadFilter, parse_metadata_filter


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
