"""Listing, property-based: random threads, random list queries in both dialects, every walk to
its end compared with a plain in-memory filter and sort of the same threads.

The expected lists are computed here from first principles (JSON containment of scalar paths,
numbers by value, a boolean never a number), not with ``ThreadFilter.matches``, so the indexes,
the merged walk, cursors, offsets and counters are all checked against an independent oracle.
Every thread has its own created_at and updated_at, so each order is total.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadline.models.domain import THREAD_STATUSES, Thread
from threadline_tools.provision import Deployment

from tests.conftest import Api, Keys, Seed, drain, erase, stamp

# ----- the world: threads of one org (and a few of another) -----------------------------------

PROJECTS = ("alpha", "beta")
BUSINESSES = ("biz-1", "biz-2", "biz-3")
TYPES = ("cip_orchestrator", "kyb_review")
FINAL = ("completed", "failed", "cancelled")

# Metadata documents whose scalar paths overlap, so that filters hit, miss and half-match.
METADATA_DOCUMENTS: list[dict[str, Any] | None] = [
    None,
    {},
    {"tier": "gold"},
    {"tier": "gold", "n": 1},
    {"tier": "silver", "n": 1.5, "crm": {"region": "eu"}},
    {"tier": True, "n": "1", "crm": {"region": "us"}},
    {"tier": None, "n": 0, "crm": {"region": "eu", "tier": "gold"}},
    {"tier": 1, "n": True, "crm": "eu"},
    {"n": 1.0, "crm": {"region": {"code": "eu"}}, "tags": ["gold"]},  # arrays: stored, not indexed
    {"crm": {"deep": {"x": {"y": 1}}}, "n": False},  # a path of 4 keys: indexed
    {"crm": {"deep": {"x": {"y": {"z": 1}}}}, "tags": ["eu", 1]},  # 5 keys: stored, not indexed
    {"tier": "gold", "crm": {"region": "eu"}, "flag": None},
]


@dataclass(frozen=True)
class Spec:
    """One thread to seed, before it has an org and stamps."""

    status: str
    type: str
    project_id: str
    business_id: str
    metadata: dict[str, Any] | None
    deleted: bool


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    deleted = draw(st.integers(0, 3)) == 0  # about one thread in four
    status = draw(st.sampled_from(FINAL if deleted else THREAD_STATUSES))
    return Spec(
        status=status,
        type=draw(st.sampled_from(TYPES)),
        project_id=draw(st.sampled_from(PROJECTS)),
        business_id=draw(st.sampled_from(BUSINESSES)),
        metadata=draw(st.sampled_from(METADATA_DOCUMENTS)),
        deleted=deleted,
    )


@dataclass(frozen=True)
class World:
    """The threads of an example: ``own`` in the listing org, ``other`` in another org."""

    own: list[Spec]
    other: list[Spec]
    created: list[int]  # a permutation: thread i is created at minute created[i]
    updated: list[int]  # another one, after every creation


@st.composite
def worlds(draw: st.DrawFn) -> World:
    own = draw(st.lists(specs(), min_size=(size := draw(st.integers(0, 40))), max_size=size))
    other = draw(st.lists(specs(), max_size=3))
    count = len(own) + len(other)
    created = draw(st.permutations(range(count)))
    updated = [count + minute for minute in draw(st.permutations(range(count)))]
    return World(own, other, list(created), updated)


def seed_world(seed: Seed, world: World, org_id: str, other_org: str) -> list[Thread]:
    """Store the world's threads; those of ``org_id``."""
    made: list[Thread] = []
    for i, spec in enumerate([*world.own, *world.other]):
        fields: dict[str, Any] = {}
        if spec.deleted:
            fields = {"deleted": True, "deleted_at": stamp(world.updated[i]), "deleted_by": "delkey00000"}
        thread = seed.thread(
            org_id if i < len(world.own) else other_org,
            created=world.created[i],
            updated=world.updated[i],
            status=spec.status,
            type=spec.type,
            project_id=spec.project_id,
            context_id=spec.business_id,
            metadata=spec.metadata,
            **fields,
        )
        if thread.org_id == org_id:
            made.append(thread)
    drain()
    return made


# ----- the oracle: which threads a metadata filter selects --------------------------------------

Path = tuple[str, ...]
_MISSING = object()


def _scalar_at(metadata: dict[str, Any] | None, path: Path) -> Any:
    """The string, number, boolean or null at ``path``; ``_MISSING`` if there is none."""
    value: Any = metadata or {}
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return _MISSING if isinstance(value, (dict, list)) else value


def _same(found: Any, wanted: Any) -> bool:
    """JSON equality as the filter means it: numbers by value, a boolean never a number."""
    if found is _MISSING:
        return False
    if isinstance(found, bool) or isinstance(wanted, bool):
        return type(found) is type(wanted) and found == wanted
    if isinstance(found, (int, float)) and isinstance(wanted, (int, float)):
        return bool(found == wanted)
    return type(found) is type(wanted) and found == wanted


def _scalar_pairs(value: Any, path: Path = ()) -> list[tuple[Path, Any]]:
    """The (path, scalar) pairs of a document within 4 keys (what a filter can name)."""
    if isinstance(value, dict):
        return [pair for key in value for pair in _scalar_pairs(value[key], (*path, key))] if len(path) < 4 else []
    return [] if isinstance(value, list) or not path else [(path, value)]


def _filter_values() -> dict[Path, list[Any]]:
    """Each path a filter may name, with the values found there, values that differ from one only
    in JSON type (1.0 is 1; "1" and true are not), and values no thread has."""
    values: dict[Path, list[Any]] = {
        ("tier",): ["silver", True, 1, "1"],
        ("n",): [1.0, "1", True, False, 2],
        ("crm",): ["us"],
        ("crm", "deep", "x", "y"): [1.0, True],
        ("tags",): ["gold", 1],  # arrays are not indexed: never a match
        ("absent",): ["x", None],
    }
    for document in METADATA_DOCUMENTS:
        for path, value in _scalar_pairs(document):
            known = values.setdefault(path, [])
            if json.dumps(value) not in {json.dumps(v) for v in known}:
                known.append(value)
    return values


FILTER_VALUES = _filter_values()
FILTER_PATHS = sorted(FILTER_VALUES)


@dataclass(frozen=True)
class MetadataQuery:
    """A metadata filter: pairs that must all hold, and at most one path with alternatives."""

    pairs: tuple[tuple[Path, Any], ...] = ()
    one_of: tuple[Path, tuple[Any, ...]] | None = None

    def document(self) -> dict[str, Any]:
        """The filter as the ``metadata`` query parameter's JSON object (nested, with ``$in``)."""
        root: dict[str, Any] = {}
        wanted: list[tuple[Path, Any]] = list(self.pairs)
        if self.one_of is not None:
            wanted.append((self.one_of[0], {"$in": list(self.one_of[1])}))
        for path, value in wanted:
            node = root
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        return root

    def holds(self, metadata: dict[str, Any] | None) -> bool:
        if not all(_same(_scalar_at(metadata, path), value) for path, value in self.pairs):
            return False
        if self.one_of is None:
            return True
        found = _scalar_at(metadata, self.one_of[0])
        return any(_same(found, value) for value in self.one_of[1])


def _clashes(path: Path, taken: list[Path]) -> bool:
    """Two paths cannot share a filter object when one is the other or leads to it."""
    return any(path[: len(other)] == other or other[: len(path)] == path for other in taken)


@st.composite
def metadata_queries(draw: st.DrawFn) -> MetadataQuery:
    pairs: list[tuple[Path, Any]] = []
    for path in draw(st.lists(st.sampled_from(FILTER_PATHS), max_size=2)):
        if not _clashes(path, [p for p, _ in pairs]):
            pairs.append((path, draw(st.sampled_from(FILTER_VALUES[path]))))
    one_of = None
    if not pairs or draw(st.booleans()):  # never an empty filter
        path = draw(st.sampled_from(FILTER_PATHS))
        if not _clashes(path, [p for p, _ in pairs]):
            one_of = (path, tuple(draw(st.lists(st.sampled_from(FILTER_VALUES[path]), min_size=1, max_size=3))))
    return MetadataQuery(tuple(pairs), one_of)


# ----- native queries --------------------------------------------------------------------------


@dataclass(frozen=True)
class NativeQuery:
    status: str | None
    project_id: str | None
    business_id: str | None
    context_form: bool  # the business as context_type=business&context_id=... instead of business_id
    agent_type: str | None
    metadata: MetadataQuery | None
    include_deleted: bool
    sort: str
    direction: str
    limit: int
    per_page: int

    def parameters(self) -> dict[str, Any]:
        query: dict[str, Any] = {"sort": self.sort, "direction": self.direction}
        optional = {"status": self.status, "project_id": self.project_id, "type": self.agent_type}
        query.update({name: value for name, value in optional.items() if value is not None})
        if self.business_id is not None and self.context_form:
            query.update({"context_type": "business", "context_id": self.business_id})
        elif self.business_id is not None:
            query["business_id"] = self.business_id
        if self.metadata is not None:
            query["metadata"] = json.dumps(self.metadata.document())
        if self.include_deleted:
            query["include_deleted"] = "true"
        return query

    def expected(self, threads: list[Thread]) -> list[str]:
        chosen = [
            t
            for t in threads
            if self.status in (None, t.status)
            and self.project_id in (None, t.project_id)
            and self.agent_type in (None, t.type)
            and (self.business_id is None or (t.context_type, t.context_id) == ("business", self.business_id))
            and (self.include_deleted or not t.deleted)
            and (self.metadata is None or self.metadata.holds(t.metadata))
        ]
        chosen.sort(key=lambda t: getattr(t, self.sort), reverse=self.direction == "desc")
        return [t.id for t in chosen]


# Which filters a native query combines: one or two (or none), metadata most often, as the
# metadata index is the one with several shapes (pairs, nesting, $in).
FILTER_SETS: list[tuple[str, ...]] = [
    (),
    ("status",),
    ("project_id",),
    ("business_id",),
    ("agent_type",),
    ("metadata",),
    ("metadata",),
    ("metadata", "status"),
    ("metadata", "project_id"),
    ("metadata", "business_id"),
    ("status", "agent_type"),
    ("status", "project_id"),
    ("business_id", "agent_type"),
]


@st.composite
def native_queries(draw: st.DrawFn) -> NativeQuery:
    fields = draw(st.sampled_from(FILTER_SETS))
    return NativeQuery(
        status=draw(st.sampled_from(THREAD_STATUSES)) if "status" in fields else None,
        project_id=draw(st.sampled_from(PROJECTS)) if "project_id" in fields else None,
        business_id=draw(st.sampled_from(BUSINESSES)) if "business_id" in fields else None,
        context_form=draw(st.booleans()),
        agent_type=draw(st.sampled_from(TYPES)) if "agent_type" in fields else None,
        metadata=draw(metadata_queries()) if "metadata" in fields else None,
        include_deleted=draw(st.booleans()),
        sort=draw(st.sampled_from(["created_at", "updated_at"])),
        direction=draw(st.sampled_from(["asc", "desc"])),
        limit=draw(st.integers(1, 7)),
        per_page=draw(st.integers(1, 7)),
    )


@dataclass(frozen=True)
class AgentuityQuery:
    project_id: str | None
    metadata: MetadataQuery | None
    sort: str
    direction: str
    limit: int

    def parameters(self) -> dict[str, Any]:
        query: dict[str, Any] = {"sort": self.sort, "direction": self.direction, "limit": self.limit}
        if self.project_id is not None:
            query["projectId"] = self.project_id
        if self.metadata is not None:
            query["metadata"] = json.dumps(self.metadata.document())
        return query

    def expected(self, threads: list[Thread]) -> list[str]:
        chosen = [
            t
            for t in threads
            if not t.deleted  # this dialect never lists deleted threads
            and self.project_id in (None, t.project_id)
            and (self.metadata is None or self.metadata.holds(t.metadata))
        ]
        chosen.sort(key=lambda t: t.created_at if self.sort == "created" else t.updated_at)
        if self.direction == "desc":
            chosen.reverse()
        return [t.id for t in chosen]


AGENTUITY_QUERIES = st.builds(
    AgentuityQuery,
    project_id=st.none() | st.sampled_from(PROJECTS),
    metadata=st.none() | metadata_queries(),
    sort=st.sampled_from(["created", "updated"]),
    direction=st.sampled_from(["asc", "desc"]),
    limit=st.integers(1, 7),
)


# ----- walks -----------------------------------------------------------------------------------


def cursor_walk(api: Api, key: str, query: dict[str, Any], limit: int) -> list[str]:
    """Follow next_cursor from the first page to the last; every id in the order served."""
    seen: list[str] = []
    parameters = {**query, "limit": limit}
    for number in range(1, 100):
        reply = api.call("GET", "/v1/threads", query=parameters, key=key)
        assert reply.status == 200, (number, reply.body)
        body = reply.json()
        page = [t["id"] for t in body["data"]]
        seen += page
        assert body["total_count"] is None  # cursor paging never counts
        assert (body["next_cursor"] is None) == (not body["has_more"]), (number, body)
        if not body["has_more"]:
            assert page or number == 1, f"page {number} is empty after a has_more"
            return seen
        assert len(page) == limit, f"page {number} holds {len(page)} of {limit} before the end"
        parameters["cursor"] = body["next_cursor"]
    raise AssertionError("the cursor walk did not end")


def page_walk(api: Api, key: str, query: dict[str, Any], per_page: int, total: int) -> list[str]:
    """Read page 1, 2, ... until has_more is false; each page counts ``total``."""
    seen: list[str] = []
    for number in range(1, 100):
        reply = api.call("GET", "/v1/threads", query={**query, "page": number, "per_page": per_page}, key=key)
        assert reply.status == 200, (number, reply.body)
        body = reply.json()
        seen += [t["id"] for t in body["data"]]
        assert body["total_count"] == total, (number, body["total_count"], total)
        assert body["has_more"] == (number * per_page < total), (number, body["has_more"])
        if not body["has_more"]:
            return seen
    raise AssertionError("the page walk did not end")


def offset_walk(api: Api, key: str, query: dict[str, Any], limit: int) -> list[str]:
    """Agentuity paging: offset by limit until a short page."""
    seen: list[str] = []
    for _ in range(100):
        reply = api.call("GET", "/thread", query={**query, "offset": len(seen)}, key=key)
        assert reply.status == 200, reply.body
        body = reply.json()
        assert body["success"] is True
        page = [t["id"] for t in body["data"]]
        seen += page
        if len(page) < limit:
            return seen
    raise AssertionError("the offset walk did not end")


# ----- the properties --------------------------------------------------------------------------


# Each example seeds its threads on moto and walks them request by request (and the indexer
# writes each thread's run entry too). One deployment serves every example of the test, so each
# example has orgs of its own, erased from the emulation after it.
@settings(
    max_examples=18,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@hypothesis.seed(20261201)  # the same examples every run
@given(world=worlds(), native=st.lists(native_queries(), min_size=1, max_size=2), agentuity=AGENTUITY_QUERIES)
def test_every_walk_lists_exactly_the_matching_threads_in_order(
    api: Api,
    keys: Keys,
    seed: Seed,
    deployment: Deployment,
    world: World,
    native: list[NativeQuery],
    agentuity: AgentuityQuery,
) -> None:
    # Given random threads of a fresh org (and of another org), indexed
    suffix = uuid.uuid4().hex[:12]
    org_id, other_org = f"acme-{suffix}", f"globex-{suffix}"
    try:
        threads = seed_world(seed, world, org_id, other_org)
        key = keys.create(org_id)

        for query in native:
            expected = query.expected(threads)
            parameters = query.parameters()

            # When the native list is walked by cursor, and by page
            by_cursor = cursor_walk(api, key, parameters, query.limit)
            by_page = page_walk(api, key, parameters, query.per_page, len(expected))

            # Then both walks are the in-memory filter and sort of the threads, each once
            assert by_cursor == expected, (parameters, query.limit)
            assert by_page == expected, (parameters, query.per_page)

        # When the Agentuity list is walked by offset
        by_offset = offset_walk(api, key, agentuity.parameters(), agentuity.limit)

        # Then it is the in-memory filter and sort of the live threads
        assert by_offset == agentuity.expected(threads), agentuity.parameters()
    finally:
        erase(deployment.threads_table, org_id, other_org)
