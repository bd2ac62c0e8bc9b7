"""A list of threads as the domain asks for it: which threads, in which order and window, and
the page that comes back. Each dialect parses its own query into these (``api.*.query``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from threadline.errors import InvalidParameterError
from threadline.models.domain import Thread
from threadline.models.limits import check_metadata

SortField = Literal["created_at", "updated_at"]
DEFAULT_PAGE_SIZE = 10


@dataclass(frozen=True)
class ThreadFilter:
    """Which threads a list wants. ``org_id`` always scopes it."""

    org_id: str
    project_id: str | None = None
    status: str | None = None
    type: str | None = None
    context: tuple[str, str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    include_deleted: bool = False


@dataclass(frozen=True)
class PageRequest:
    """Order and window of a list."""

    sort: SortField = "created_at"
    descending: bool = True
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0
    cursor: str | None = None
    with_total: bool = False


@dataclass(frozen=True)
class ThreadPage:
    """One page of a list."""

    threads: list[Thread]
    has_more: bool
    next_cursor: str | None
    total_count: int | None


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
