"""Lists of threads from the keys-only listing indexes, at a cost that follows the page.

A filter is a set of *members*, each one index dimension with one or more partitions: the org
(no filter), a status, type, project or context, one metadata pair, or the ``$in`` values of
one metadata path; ``include_deleted`` adds each partition's ``#deleted`` twin. The list walks
one member, the most selective by its counters when there are several, merging its partitions
in sort order (each Query reads at most what the page still needs), then reads the page's
threads by key. Members not walked are checked on each thread read, and so is the walked one:
an index a moment behind its table never puts a thread in the wrong list.

Costs (``docs/architecture.md`` has the table): a single member reads ``offset + page + 1``
small index entries per partition and the page's items; ``total_count`` is one Query of the
member's counter shards per partition value. Several members read each one's counters once,
then the chosen member's entries and their threads until the page is full; counting them
reads all of the chosen member's matches.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from threadline.errors import InvalidParameterError
from threadline.models.domain import Thread
from threadline.models.listing import PageRequest, ThreadFilter, ThreadPage
from threadline.store import keys
from threadline.store.thread_index import CounterStore
from threadline.timeutil import now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FetchThreads = Callable[[list[str], bool], dict[str, Thread]]  # thread pks, with user data → threads by pk

_MAX_BATCH = 100


@dataclass(frozen=True)
class Member:
    """One index dimension a filter selects on, with its values (several for ``$in``)."""

    dimension: keys.Dimension
    values: tuple[tuple[str, ...], ...]

    def partitions(self, org_id: str, include_deleted: bool) -> list[str]:
        return [partition for partition, _ in self.sources(org_id, include_deleted)]

    def sources(self, org_id: str, include_deleted: bool) -> list[tuple[str, str]]:
        """Each partition walked, with the sort key of its entries' items (header or metadata item)."""
        flags = (False, True) if include_deleted else (False,)
        return [
            (
                keys.dimension_partition(self.dimension, org_id, *v, deleted=d),
                f"{keys.METADATA_SK_PREFIX}{v[0]}" if self.dimension == "metadata" else keys.THREAD_SK,
            )
            for v in self.values
            for d in flags
        ]

    def counters(self) -> list[str]:
        return [keys.counter_name(self.dimension, *v) for v in self.values]

    def label(self) -> str:
        return json.dumps([self.dimension, [list(v) for v in self.values]], separators=(",", ":"))


def members(wanted: ThreadFilter) -> list[Member]:
    """The members of a filter; the org alone when it has none."""
    found: list[Member] = []
    if wanted.status is not None:
        found.append(Member("status", ((wanted.status,),)))
    if wanted.type is not None:
        found.append(Member("type", ((wanted.type,),)))
    if wanted.project_id is not None:
        found.append(Member("project", ((wanted.project_id,),)))
    if wanted.context is not None:
        found.append(Member("context", (wanted.context,)))
    found += [Member("metadata", ((pair.digest,),)) for pair in wanted.metadata.pairs]
    if wanted.metadata.one_of:
        found.append(Member("metadata", tuple((pair.digest,) for pair in wanted.metadata.one_of)))
    return found or [Member("org", ((),))]


@dataclass
class _Entry:
    sort: str
    source: int  # which partition
    key: dict[str, str]
    after: list[list[str] | None] | None = None  # every partition's position once this entry is read


class ThreadLister:
    """Serves one list request."""

    def __init__(self, client: DynamoDBClient, table: str, fetch: FetchThreads, secret: bytes) -> None:
        self._db = client
        self._table = table
        self._fetch = fetch
        self._counters = CounterStore(client, table)
        self._secret = secret

    def page(self, wanted: ThreadFilter, page: PageRequest) -> ThreadPage:
        choices = members(wanted)
        fingerprint = _fingerprint(wanted, page)
        counts: dict[Member, int] = {}
        last: tuple[str, str] | None = None
        if page.cursor is not None:
            member, positions, last, as_of = self._decode(page.cursor, fingerprint, wanted, choices, page)
        else:
            member, as_of = choices[0], now_iso()
            if len(choices) > 1:  # the most selective member, by its counters
                counts = {m: self._count(wanted, m) for m in choices}
                member = min(choices, key=lambda m: counts[m])
            positions = [None] * len(member.partitions(wanted.org_id, wanted.include_deleted))
        single = len(choices) == 1
        walk = _Walk(self, wanted, page, member, positions, last, as_of)
        threads, has_more = walk.single() if single else walk.combined()
        total = None
        if page.with_total:  # a single member is counted; several are counted by walking the chosen one
            total = self._count(wanted, member) if single else walk.matched + sum(1 for _ in walk.remaining_matches())
        cursor = None
        if has_more and walk.last is not None:  # (a page whose entries were all stale is empty, not the end)
            cursor = self._encode(fingerprint, choices.index(member), walk.snapshot, walk.last, as_of)
        return ThreadPage(threads=threads, has_more=has_more, next_cursor=cursor, total_count=total)

    # ----- counters ------------------------------------------------------------------------
    def _count(self, wanted: ThreadFilter, member: Member) -> int:
        return sum(self._counters.count(wanted.org_id, name, wanted.include_deleted) for name in member.counters())

    # ----- index reads -----------------------------------------------------------------------
    def entries(
        self,
        index: str,
        attribute: str,
        partition: str,
        source: int,
        start: dict[str, str] | None,
        descending: bool,
        first: int,
    ) -> Iterator[_Entry]:
        """The entries of one partition in sort order, after ``start``; the first Query asks for
        ``first`` entries, each next one for twice as many as the last."""
        sort = index.rsplit("_", 1)[1] + "_at"
        limit = max(1, first)
        exclusive: dict[str, Any] | None = {k: {"S": v} for k, v in start.items()} if start else None
        while True:
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": index,
                "KeyConditionExpression": "#part = :part",
                "ExpressionAttributeNames": {"#part": attribute},
                "ExpressionAttributeValues": {":part": {"S": partition}},
                "ScanIndexForward": not descending,
                "Limit": limit,
            }
            if exclusive:
                request["ExclusiveStartKey"] = exclusive
            reply = self._db.query(**request)
            for item in reply.get("Items", []):
                key = {name: item[name]["S"] for name in ("pk", "sk", attribute, sort)}
                yield _Entry(key[sort], source, key)
            exclusive = reply.get("LastEvaluatedKey")
            if not exclusive:
                return
            limit = min(limit * 2, 1000)

    def fetch(self, pks: list[str], with_user_data: bool) -> dict[str, Thread]:
        return self._fetch(pks, with_user_data)

    # ----- cursors ---------------------------------------------------------------------------
    # A cursor is a 16-byte HMAC-SHA256 of its JSON, then the JSON: the walked member (its index
    # among the filter's members), each partition's last entry read and the last one listed, as
    # [sort stamp, thread id] (the rest of an entry's key follows from the filter), the walk's
    # start time, and the fingerprint of the query it belongs to.
    def _encode(
        self, fingerprint: str, member: int, positions: list[_Position], last: tuple[str, str], as_of: str
    ) -> str:
        body = json.dumps(
            {
                "m": member,
                "p": positions,
                "l": _position({"s": last[0], "pk": last[1]}, "s"),
                "t": as_of,
                "q": fingerprint,
            },
            separators=(",", ":"),
        ).encode()
        return base64.urlsafe_b64encode(self._sign(body) + body).decode().rstrip("=")

    def _sign(self, body: bytes) -> bytes:
        if not self._secret:  # fail closed: an unsigned cursor could be forged
            raise RuntimeError("CURSOR_SECRET is not set")
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:16]

    def _decode(
        self, cursor: str, fingerprint: str, wanted: ThreadFilter, choices: list[Member], page: PageRequest
    ) -> tuple[Member, list[dict[str, str] | None], tuple[str, str], str]:
        invalid = InvalidParameterError("cursor is not a next_cursor of this same list", "cursor")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except ValueError as error:
            raise invalid from error
        signature, body = raw[:16], raw[16:]
        if not hmac.compare_digest(signature, self._sign(body)):
            raise invalid
        try:
            decoded = json.loads(body)
            index, positions, last, as_of, stamp = decoded["m"], decoded["p"], decoded["l"], decoded["t"], decoded["q"]
        except (ValueError, KeyError, TypeError) as error:
            raise invalid from error
        if stamp != fingerprint or not isinstance(index, int) or not 0 <= index < len(choices):
            raise invalid
        if not isinstance(as_of, str) or not _is_position(last) or not isinstance(positions, list):
            raise invalid
        member = choices[index]
        sources = member.sources(wanted.org_id, wanted.include_deleted)
        attribute = keys.DIMENSION_ATTRIBUTES[member.dimension]
        if len(positions) != len(sources) or not all(p is None or _is_position(p) for p in positions):
            raise invalid
        starts: list[dict[str, str] | None] = [
            None
            if position is None
            else {
                "pk": keys.thread_pk(wanted.org_id, position[1]),
                "sk": sk,
                attribute: partition,
                page.sort: position[0],
            }
            for (partition, sk), position in zip(sources, positions, strict=True)
        ]
        return member, starts, (last[0], keys.thread_pk(wanted.org_id, last[1])), as_of


_Position = list[str] | None  # [sort stamp, thread id]


def _is_position(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, str) and v for v in value)
        and "#" not in value[1]  # a thread id: the org comes from the tenant, never the cursor
    )


def _position(key: dict[str, str] | None, sort: str) -> _Position:
    return None if key is None else [key[sort], key["pk"].rsplit("#", 1)[1]]


class _Walk:
    """One pass over the chosen member's partitions, merged in sort order."""

    def __init__(
        self,
        lister: ThreadLister,
        wanted: ThreadFilter,
        page: PageRequest,
        member: Member,
        positions: list[dict[str, str] | None],
        last: tuple[str, str] | None,
        as_of: str,
    ) -> None:
        self._lister = lister
        self._wanted = wanted
        self._page = page
        self._as_of = as_of
        self._resumed_after = last
        self.snapshot: list[_Position] = [_position(p, page.sort) for p in positions]
        self.last: tuple[str, str] | None = None  # (sort stamp, thread id) of the last entry listed
        self._positions = list(positions)
        self.matched = 0
        self._counting = False
        index = keys.index_name(member.dimension, page.sort)
        attribute = keys.DIMENSION_ATTRIBUTES[member.dimension]
        first = page.offset + page.limit + 1
        sources = [
            lister.entries(index, attribute, partition, i, positions[i], page.descending, first)
            for i, partition in enumerate(member.partitions(wanted.org_id, wanted.include_deleted))
        ]
        merged = heapq.merge(*sources, key=lambda e: (e.sort, e.key["pk"]), reverse=page.descending)
        self._entries = self._consume(merged)
        self._matches = self._find_matches()

    def _consume(self, merged: Iterator[_Entry]) -> Iterator[_Entry]:
        resumed = self._resumed_after
        descending = self._page.descending
        for entry in merged:
            self._positions[entry.source] = entry.key
            entry.after = [_position(p, self._page.sort) for p in self._positions]
            if resumed is not None:
                # At or before the last thread listed: a thread that moved partitions since (deleted
                # into its #deleted twin, say) keeps its stamp, and is not listed twice.
                here = (entry.sort, entry.key["pk"])
                if (here >= resumed) if descending else (here <= resumed):
                    continue
                # A thread updated after the walk began has moved to where the walk was (or will be)
                # again: leave it there, so that no thread is listed twice. Ascending, every entry
                # from the first such one on is newer: the walk has ended.
                if self._page.sort == "updated_at" and entry.sort > self._as_of:
                    if not descending:
                        return
                    continue
            yield entry

    def single(self) -> tuple[list[Thread], bool]:
        """The page when the walked member is the whole filter: skip entries, read the page."""
        for _ in range(self._page.offset):
            if next(self._entries, None) is None:
                return [], False
        window = [e for _, e in zip(range(self._page.limit), self._entries, strict=False)]
        if window:
            self._listed(window[-1])
        has_more = next(self._entries, None) is not None
        found = self._lister.fetch([e.key["pk"] for e in window], True)
        threads = [found[e.key["pk"]] for e in window if e.key["pk"] in found]
        return [t for t in threads if self._wanted.matches(t)], has_more

    def combined(self) -> tuple[list[Thread], bool]:
        """The page when other members are checked on each thread the walk reads."""
        window: list[Thread] = []
        has_more = False
        for entry, thread in self._matches:
            self.matched += 1
            if self.matched <= self._page.offset:
                continue
            if len(window) < self._page.limit:
                window.append(thread)
                self._listed(entry)
                continue
            has_more = True
            break
        with_data = self._lister.fetch([keys.thread_pk(t.org_id, t.id) for t in window], True)
        return [with_data.get(keys.thread_pk(t.org_id, t.id), t) for t in window], has_more

    def _listed(self, entry: _Entry) -> None:
        """Where the next page starts: after ``entry``, in every partition."""
        self.snapshot = entry.after or []
        self.last = (entry.sort, entry.key["pk"])

    def remaining_matches(self) -> Iterator[tuple[_Entry, Thread]]:
        """The matches after the page (counting them reads the rest of the member, in full batches)."""
        self._counting = True
        return self._matches

    def _find_matches(self) -> Iterator[tuple[_Entry, Thread]]:
        examined = matched = 0
        while True:
            needed = max(1, self._page.offset + self._page.limit + 1 - self.matched)
            # What is missing, scaled by the share of candidates that matched so far (a full batch
            # when none did yet), so a selective combination takes a few round trips, not one per match.
            size = math.ceil(needed * 1.25 * examined / matched) if matched else (_MAX_BATCH if examined else needed)
            if self._counting:
                size = _MAX_BATCH
            batch = [e for _, e in zip(range(min(_MAX_BATCH, max(needed, size))), self._entries, strict=False)]
            if not batch:
                return
            found = self._lister.fetch([e.key["pk"] for e in batch], False)
            for entry in batch:
                examined += 1
                thread = found.get(entry.key["pk"])
                if thread is not None and self._wanted.matches(thread):
                    matched += 1
                    yield entry, thread


def _fingerprint(wanted: ThreadFilter, page: PageRequest) -> str:
    """What a cursor is bound to: the tenant, the filter and the order (not the page size)."""
    filter_ = {
        "org": wanted.org_id,
        "project": wanted.project_id,
        "status": wanted.status,
        "type": wanted.type,
        "context": wanted.context,
        "metadata": sorted(p.digest for p in wanted.metadata.pairs),
        "one_of": sorted(p.digest for p in wanted.metadata.one_of),
        "deleted": wanted.include_deleted,
        "sort": page.sort,
        "descending": page.descending,
    }
    return hashlib.sha256(json.dumps(filter_, sort_keys=True).encode()).hexdigest()[:16]
