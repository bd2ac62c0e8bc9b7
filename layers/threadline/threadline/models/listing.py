"""A list of threads as the domain asks for it: which threads, in which order and window, and
the page that comes back. Each dialect parses its own query into these (``api.*.query``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from threadline.errors import InvalidParameterError
from threadline.models.domain import RunDetail, Thread
from threadline.models.limits import check_metadata
from threadline.models.metadata import MetadataFilter, parse_filter

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
    metadata: MetadataFilter = field(default_factory=MetadataFilter)
    include_deleted: bool = False

    def matches(self, thread: Thread) -> bool:
        """Whether ``thread`` belongs to this list (what the indexes select, checked on the item)."""
        return (
            thread.org_id == self.org_id
            and self.project_id in (None, thread.project_id)
            and self.status in (None, thread.status)
            and self.type in (None, thread.type)
            and self.context in (None, (thread.context_type, thread.context_id))
            and (self.include_deleted or not thread.deleted)
            and self.metadata.matches(thread.metadata)
        )


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


@dataclass(frozen=True)
class RunFilter:
    """Which runs a list wants. ``org_id`` always scopes it; a restricted key's ``project_id`` too."""

    org_id: str
    project_id: str | None = None
    thread_id: str | None = None
    status: str | None = None
    agent: str | None = None

    def matches(self, run: RunDetail) -> bool:
        """Whether ``run`` belongs to this list."""
        return (
            run.org_id == self.org_id
            and self.project_id in (None, run.project_id)
            and self.thread_id in (None, run.thread_id)
            and self.status in (None, run.status)
            and self.agent in (None, run.agent)
        )


@dataclass(frozen=True)
class RunPage:
    """One page of a list of runs (without their steps)."""

    runs: list[RunDetail]
    has_more: bool
    next_cursor: str | None
    total_count: int | None


def parse_metadata_filter(raw: str | None, parameter: str = "metadata") -> MetadataFilter:
    """A ``metadata`` query value: a JSON object of pairs to contain (``models.metadata``)."""
    if raw is None:
        return MetadataFilter()
    try:
        parsed = json.loads(raw)
    except RecursionError as error:  # "[[[..." within the length limit: deeper than Python's parser goes
        raise InvalidParameterError(f"{parameter} nests too deeply", parameter) from error
    except ValueError as error:
        raise InvalidParameterError(f"{parameter} must be a JSON object", parameter) from error
    if not isinstance(parsed, dict):
        raise InvalidParameterError(f"{parameter} must be a JSON object", parameter)
    try:
        check_metadata(parsed)
    except ValueError as error:
        raise InvalidParameterError(f"{parameter} filter: {error}", parameter) from error
    try:
        json.dumps(parsed, ensure_ascii=False).encode()
    except UnicodeEncodeError as error:  # a lone surrogate escape ("\ud800"): no stored metadata holds one
        raise InvalidParameterError(f"{parameter} has invalid Unicode (a lone surrogate escape)", parameter) from error
    return parse_filter(parsed, parameter)
