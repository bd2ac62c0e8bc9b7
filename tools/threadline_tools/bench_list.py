"""Listing benchmark: what every list shape of both dialects reads at two tenant sizes, and
what each thread write costs (``make bench-list``).

``python -m threadline_tools.bench_list [--sizes 1000,10000] [--shapes NAME;NAME] [--skip-writes] [--out DIR]``

For each size N, a fresh moto deployment in-process (provisioned as ``bench_dynamodb`` does)
is seeded through the store, not the API (no workflow runs): N threads of org ``acme``, N/10
of each of two other orgs, with mixed statuses, projects, businesses, metadata at 1 % and 50 %
selectivity, some user data and some deleted; the stream is then delivered to the indexer
(``streams.StreamPump``). Each list request goes through the in-process gateway with the
stream drained first and every DynamoDB call of its route recorded (``bench_calls``): the
index entries its Queries read, the items it fetched by key, the read units they cost by
AWS's rules (a key BatchGetItem finds nothing under still costs a unit, as a GetItem's does).
A page for a tenant of 10,000 threads should read what the same page reads for one of 1,000.

The writes part creates, touches (as a workflow step does), moves and deletes one thread with
small and with 200 KB user data, and meters each write, and the indexer's writes it causes,
in write units (``bench_units``).

Rows go to ``.threadline/bench/list.json`` and ``list_writes.json``; tables to stdout.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack, redirect_stdout
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from threadline_tools.bench_calls import Call, CallRecorder
from threadline_tools.bench_moto import MOTO_CONFIG, aws_sandbox
from threadline_tools.template import ROOT

if TYPE_CHECKING:
    from threadline.models.domain import Thread, ThreadStatus

    from threadline_tools.bench_units import WriteMeter
    from threadline_tools.gateway import Gateway, Reply
    from threadline_tools.provision import Deployment

RESULTS = ROOT / ".threadline" / "bench"
SIZES = (1000, 10000)
ORG = "acme"
NOISE_ORGS = ("globex", "initech")  # N/10 threads each, in the same indexes
PROJECTS = ("default", "default", "growth", "ops")
BUSINESSES = 50
TIERS = ("gold", "silver", "bronze")
REGIONS = ("eu", "us", "apac")
RARE_EVERY = 100  # {"rare": "yes"}: 1 % of an org's threads
DELETED_SHARE = 0.05
SEED_CHUNK = 1000  # threads seeded between two stream deliveries (and progress lines)
USER_DATA_SIZES = (("small", 256), ("200 KB", 200 * 1024))
STEADY_GROWTH = 1.5  # a tenant 10x larger may cost a list at most this much more (``targets``)

Dialect = Literal["native", "agentuity"]
Target = Literal["page", "default", "offset", "steady"]


@dataclass(frozen=True)
class Shape:
    """One list request: its dialect, query, page size and, for a cursor page, which page."""

    name: str
    dialect: Dialect
    query: dict[str, str] = field(default_factory=dict)
    page_size: int = 10
    cursor_page: int = 0  # > 1: walk there with next_cursor, measure only that page
    target: Target | None = None  # what it is held to in the report (``targets``)

    @property
    def path(self) -> str:
        return "/v1/threads" if self.dialect == "native" else "/thread"


def _shapes() -> list[Shape]:
    rare, half, two = '{"rare": "yes"}', '{"half": "a"}', '{"half": "a", "region": "eu"}'
    cursor = {"limit": "20"}
    return [
        Shape("default", "native", target="default"),
        Shape("status=running", "native", {"status": "running"}, target="page"),
        Shape("type=cip_orchestrator", "native", {"type": "cip_orchestrator"}, target="page"),
        Shape("project_id=growth", "native", {"project_id": "growth"}, target="page"),
        Shape("business_id=biz-007", "native", {"business_id": "biz-007"}, target="page"),
        Shape("metadata rare (1 %)", "native", {"metadata": rare}, target="page"),
        Shape("metadata half (50 %)", "native", {"metadata": half}, target="page"),
        Shape(
            "metadata tier $in gold|silver",
            "native",
            {"metadata": '{"tier": {"$in": ["gold", "silver"]}}'},
            target="steady",
        ),
        Shape("metadata half+region", "native", {"metadata": two}, target="steady"),
        Shape("metadata half + status=running", "native", {"metadata": half, "status": "running"}, target="steady"),
        Shape("metadata half+region limit=20", "native", {"metadata": two, **cursor}, 20, 1, "steady"),
        Shape(
            "metadata half + status=running limit=20",
            "native",
            {"metadata": half, "status": "running", **cursor},
            20,
            1,
            "steady",
        ),
        Shape("page=1 per_page=20", "native", {"page": "1", "per_page": "20"}, 20, target="page"),
        Shape("page=5 per_page=20", "native", {"page": "5", "per_page": "20"}, 20, target="offset"),
        Shape("page=50 per_page=20", "native", {"page": "50", "per_page": "20"}, 20, target="offset"),
        Shape("cursor page 1 (limit=20)", "native", cursor, 20, cursor_page=1, target="page"),
        Shape("cursor page 2 (limit=20)", "native", cursor, 20, cursor_page=2, target="page"),
        Shape("cursor page 50 (limit=20)", "native", cursor, 20, cursor_page=50, target="page"),
        Shape("status=running cursor page 2", "native", {"status": "running", **cursor}, 20, 2, "page"),
        Shape("sort=updated_at", "native", {"sort": "updated_at"}, target="default"),
        Shape("status=running sort=updated_at", "native", {"status": "running", "sort": "updated_at"}, target="page"),
        Shape("include_deleted=true", "native", {"include_deleted": "true"}, target="steady"),
        Shape("default", "agentuity", target="page"),
        Shape("metadata rare (1 %)", "agentuity", {"metadata": rare}, target="page"),
        Shape("offset=0 limit=10", "agentuity", {"offset": "0", "limit": "10"}, target="page"),
        Shape("offset=100 limit=10", "agentuity", {"offset": "100", "limit": "10"}, target="offset"),
        Shape("offset=1000 limit=10", "agentuity", {"offset": "1000", "limit": "10"}, target="offset"),
        Shape("sort=updated", "agentuity", {"sort": "updated"}, target="page"),
    ]


SHAPES = _shapes()


@dataclass
class ListRow:
    """What one list request read."""

    shape: str
    dialect: str
    threads: int  # the tenant's threads (org acme)
    page_size: int
    calls: int  # DynamoDB calls of the route (the authorizer's key lookup not included)
    items_read: int  # Query ScannedCount (index entries and counter shards) + items fetched by key
    read_units: float
    returned: int  # threads in the reply
    index_entries: int  # ScannedCount of the Queries on an index
    items_fetched: int  # items of BatchGetItem and GetItem
    status: int = 200
    note: str = ""


@dataclass
class WriteRow:
    """What one write cost, and what the indexer wrote because of it."""

    operation: str
    user_data: str
    threads: int
    items_written: int
    table_write_units: float
    index_write_units: float
    write_units: float
    indexer_items_written: int
    indexer_table_write_units: float
    indexer_index_write_units: float
    indexer_write_units: float


# ----- the run ------------------------------------------------------------------------------------
def run(
    sizes: Sequence[int],
    shapes: Sequence[Shape] = SHAPES,
    writes: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[ListRow], list[WriteRow]]:
    """List rows and write rows of every size, each on a deployment of its own."""
    lists: list[ListRow] = []
    written: list[WriteRow] = []
    for size in sizes:
        found, costs = _run_size(size, shapes, writes, progress or (lambda _: None))
        lists += found
        written += costs
    return lists, written


def _run_size(
    size: int, shapes: Sequence[Shape], writes: bool, progress: Callable[[str], None]
) -> tuple[list[ListRow], list[WriteRow]]:
    import boto3
    from moto import mock_aws
    from threadline import clients, wiring

    from threadline_tools.bench_units import WriteMeter, table_shape
    from threadline_tools.gateway import Gateway
    from threadline_tools.lambda_bridge import bridged, patched_moto
    from threadline_tools.provision import THREADS_TABLE, provision

    # The handlers log to stdout (Powertools); keep stdout for the report.
    with ExitStack() as stack:
        stack.enter_context(aws_sandbox())
        stack.enter_context(redirect_stdout(sys.stderr))
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        stack.enter_context(patched_moto())
        deployment = provision(f"bench-list-{size}")
        os.environ.update(deployment.environment())
        wiring.reset()
        stack.enter_context(bridged(deployment.functions))
        stack.callback(wiring.reset)
        drain = _stream_delivery(deployment)
        started = time.monotonic()
        key, key_id = _seed(deployment, size, drain, progress)
        progress(f"{size}: seeded and indexed in {time.monotonic() - started:.0f} s")
        gateway = Gateway()
        recorder = CallRecorder()
        recorder.attach(clients.dynamodb())
        rows = [_measure(gateway, recorder, drain, deployment, key, size, shape) for shape in shapes]
        progress(f"{size}: {len(rows)} list requests measured")
        costs: list[WriteRow] = []
        if writes:
            meter = WriteMeter(boto3.client("dynamodb"), {deployment.threads_table: table_shape(THREADS_TABLE)})
            meter.attach(clients.dynamodb())
            costs = _measure_writes(gateway, meter, drain, deployment.threads_table, key, key_id, size)
            progress(f"{size}: {len(costs)} writes measured")
        return rows, costs


def _stream_delivery(deployment: Deployment) -> Callable[[], object]:
    """Delivers the threads table's stream to the indexer (as Lambda's event source mapping does)."""
    from threadline_tools.streams import StreamPump

    return StreamPump(deployment.threads_table).drain


# ----- seeding ------------------------------------------------------------------------------------
def _seed(
    deployment: Deployment, size: int, drain: Callable[[], object], progress: Callable[[str], None]
) -> tuple[str, str]:
    """Seed the orgs' threads through the store, indexing as it goes; returns acme's API key and its id."""
    from threadline import clients, wiring
    from threadline.auth.api_keys import generate_key, hash_key
    from threadline.models.api_keys import ApiKeyRecord
    from threadline.store.api_keys import ApiKeyStore
    from threadline.timeutil import now_iso

    key_id, key = generate_key()
    record = ApiKeyRecord(
        key_hash=hash_key(key),
        key_id=key_id,
        org_id=ORG,
        name="bench key",
        scopes=("read", "write"),
        created_at=now_iso(),
    )
    ApiKeyStore(clients.dynamodb(), deployment.keys_table).put(record)
    plan = [ORG] * size + [org for org in NOISE_ORGS for _ in range(size // 10)]
    rng = random.Random(size)
    rng.shuffle(plan)  # the other orgs' threads interleaved in time with acme's
    store = wiring.thread_store()
    seen: dict[str, int] = {}
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for i, org in enumerate(plan):
        n = seen[org] = seen.get(org, -1) + 1
        thread = _thread(org, n, base + timedelta(minutes=i), rng, key_id)
        store.create(thread)
        if (i + 1) % SEED_CHUNK == 0 or i + 1 == len(plan):
            drain()
            progress(f"{size}: {i + 1}/{len(plan)} threads seeded and indexed")
    return key, key_id


_STATUSES: tuple[ThreadStatus, ...] = ("running", "completed", "completed", "failed", "running")
_STATUSES += ("completed", "interrupted", "completed", "cancelled", "completed")  # 20 % running


def _thread(org: str, n: int, created: datetime, rng: random.Random, key_id: str) -> Thread:
    from threadline.models.domain import Requester, Thread
    from threadline.timeutil import format_time

    deleted = rng.random() < DELETED_SHARE
    updated = format_time(created + timedelta(minutes=rng.randrange(240), seconds=rng.randrange(60)))
    metadata: dict[str, Any] = {
        "tier": rng.choice(TIERS),
        "region": rng.choice(REGIONS),
        "half": "a" if rng.random() < 0.5 else "b",
    }
    if n % RARE_EVERY == RARE_EVERY // 2:
        metadata["rare"] = "yes"
    return Thread(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        type="cip_orchestrator",
        status="cancelled" if deleted else rng.choice(_STATUSES),
        org_id=org,
        project_id=rng.choice(PROJECTS),
        context_type="business",
        context_id=f"biz-{rng.randrange(BUSINESSES):03d}",
        metadata=metadata,
        user_data=json.dumps({"customer": f"c-{n}", "notes": "x" * 200}) if rng.random() < 0.5 else None,
        requester=Requester(id=key_id, name="bench key"),
        created_at=format_time(created),
        updated_at=updated,
        deleted=deleted,
        deleted_at=updated if deleted else None,
        deleted_by=key_id if deleted else None,
    )


# ----- list requests ------------------------------------------------------------------------------
def _measure(
    gateway: Gateway,
    recorder: CallRecorder,
    drain: Callable[[], object],
    deployment: Deployment,
    key: str,
    size: int,
    shape: Shape,
) -> ListRow:
    headers = {"Authorization": f"Bearer {key}"}
    query = {name: [value] for name, value in shape.query.items()}
    note = ""
    if shape.cursor_page > 1:  # the pages before, unmeasured
        page = 1
        while page < shape.cursor_page:
            drain()
            cursor = gateway.request("GET", shape.path, headers, query, None).json().get("next_cursor")
            if not cursor:
                note = f"the list has {page} pages: page {page} measured"
                break
            query["cursor"] = [cursor]
            page += 1
    drain()  # the indexer's writes are not the request's
    with recorder.recording() as calls:
        reply = gateway.request("GET", shape.path, headers, query, None)
    return _row(shape, size, reply, calls, deployment.keys_table, note)


def _row(shape: Shape, size: int, reply: Reply, calls: list[Call], keys_table: str, note: str) -> ListRow:
    route = [c for c in calls if c.service == "dynamodb" and c.table != keys_table]
    queries = [c for c in route if c.operation in ("Query", "Scan")]
    fetched = sum(c.read for c in route if c.operation in ("GetItem", "BatchGetItem"))
    body = reply.json() if reply.status == 200 else {}
    if reply.status != 200:
        note = note or f"HTTP {reply.status}: {reply.body[:200]}"
    return ListRow(
        shape=shape.name,
        dialect=shape.dialect,
        threads=size,
        page_size=shape.page_size,
        calls=len(route),
        items_read=sum(c.read for c in queries) + fetched,
        read_units=sum(c.read_units for c in route),
        returned=len(body.get("data") or []),
        index_entries=sum(c.read for c in queries if c.index),
        items_fetched=fetched,
        status=reply.status,
        note=note,
    )


# ----- writes -------------------------------------------------------------------------------------
def _measure_writes(
    gateway: Gateway, meter: WriteMeter, drain: Callable[[], object], table: str, key: str, key_id: str, size: int
) -> list[WriteRow]:
    """Create, touch, move and delete one thread per user data size, metering each write and the
    indexer's writes it causes."""
    from threadline import wiring
    from threadline.models.domain import Requester, Thread
    from threadline.timeutil import now_iso

    rows: list[WriteRow] = []
    store, statuses = wiring.thread_store(), wiring.status_store()
    for label, length in USER_DATA_SIZES:
        stamp = now_iso()
        thread = Thread(
            id=str(uuid.uuid4()),
            type="cip_orchestrator",
            status="running",
            org_id=ORG,
            project_id="default",
            context_type="business",
            context_id="biz-001",
            metadata={"tier": "gold", "region": "eu", "half": "a"},
            user_data="u" * length,
            requester=Requester(id=key_id, name="bench key"),
            created_at=stamp,
            updated_at=stamp,
        )
        operations: list[tuple[str, Callable[[], object]]] = [
            ("create", functools.partial(store.create, thread)),
            ("workflow step (thread touch)", functools.partial(_touch, table, thread)),
            ("status change (running → completed)", functools.partial(statuses.move, ORG, thread.id, "completed")),
            ("delete (DELETE /v1/threads/{id})", functools.partial(_delete, gateway, key, thread)),
        ]
        for name, operation in operations:
            drain()
            with meter.metering() as units:
                operation()
            with meter.metering() as indexed:
                drain()
            rows.append(
                WriteRow(
                    operation=name,
                    user_data=label,
                    threads=size,
                    items_written=units.items,
                    table_write_units=units.table,
                    index_write_units=units.indexes,
                    write_units=units.total,
                    indexer_items_written=indexed.items,
                    indexer_table_write_units=indexed.table,
                    indexer_index_write_units=indexed.indexes,
                    indexer_write_units=indexed.total,
                )
            )
    return rows


def _touch(table: str, thread: Thread) -> None:
    """A step's write of its thread (its end's touch, ``StepStore.finish``)."""
    from threadline import clients
    from threadline.store import keys
    from threadline.timeutil import now_iso

    clients.dynamodb().update_item(
        TableName=table,
        Key={name: {"S": value} for name, value in keys.thread_key(thread.org_id, thread.id).items()},
        UpdateExpression="SET updated_at = :now ADD version :one",
        ConditionExpression="#status IN (:running, :interrupted)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":now": {"S": now_iso()},
            ":one": {"N": "1"},
            ":running": {"S": "running"},
            ":interrupted": {"S": "interrupted"},
        },
    )


def _delete(gateway: Gateway, key: str, thread: Thread) -> None:
    reply = gateway.request("DELETE", f"/v1/threads/{thread.id}", {"Authorization": f"Bearer {key}"}, {}, None)
    if reply.status != 200:
        raise RuntimeError(f"DELETE answered {reply.status}: {reply.body[:200]}")


# ----- report -------------------------------------------------------------------------------------
def render_lists(rows: Iterable[ListRow]) -> str:
    """One table per size."""
    columns = ("shape", "dialect", "page", "calls", "index entries", "fetched", "items read", "read units", "returned")
    blocks: list[str] = []
    by_size: dict[int, list[ListRow]] = {}
    for row in rows:
        by_size.setdefault(row.threads, []).append(row)
    for size, sized in by_size.items():
        lines = [
            [
                r.shape + (" *" if r.note else ""),
                r.dialect,
                str(r.page_size),
                str(r.calls),
                str(r.index_entries),
                str(r.items_fetched),
                str(r.items_read),
                f"{r.read_units:g}",
                str(r.returned),
            ]
            for r in sized
        ]
        notes = [f"  * {r.dialect} {r.shape}: {r.note}" for r in sized if r.note]
        title = f"{size} threads in the tenant (+{size // 10} in each of {len(NOISE_ORGS)} others)"
        blocks.append("\n".join([title, _table(columns, lines), *notes]))
    return "\n\n".join(blocks)


def render_writes(rows: Iterable[WriteRow]) -> str:
    """One table per size."""
    columns = ["operation", "user data", "items", "table WU", "GSI WU", "write units", "indexer items"]
    columns += ["indexer table WU", "indexer GSI WU", "indexer write units"]
    by_size: dict[int, list[list[str]]] = {}
    for r in rows:
        by_size.setdefault(r.threads, []).append(
            [
                r.operation,
                r.user_data,
                str(r.items_written),
                f"{r.table_write_units:g}",
                f"{r.index_write_units:g}",
                f"{r.write_units:g}",
                str(r.indexer_items_written),
                f"{r.indexer_table_write_units:g}",
                f"{r.indexer_index_write_units:g}",
                f"{r.indexer_write_units:g}",
            ]
        )
    return "\n\n".join(
        f"writes, {size} threads in the tenant\n" + _table(columns, lines) for size, lines in by_size.items()
    )


def targets(rows: Sequence[ListRow], shapes: Sequence[Shape] = SHAPES) -> list[str]:
    """Whether each shape meets its target (reported, never asserted):

    - ``page`` (one filter, a first or cursor page): index entries ≤ page + 1, the same at every size;
    - ``default`` (the native default, page 1 with its total): index entries ≤ page + 1, items fetched
      ≤ 2 * page (headers and user data), counter reads and so items read the same at every size;
    - ``offset``: its read units, as they are (the previous version's offset=1000 was about 185);
    - ``steady`` (several partitions or members): items read at the largest size within
      ``STEADY_GROWTH`` times those at the smallest (the seeded data is random, so not equal).
    """
    lines: list[str] = []
    for shape in shapes:
        sized = sorted(
            (r for r in rows if r.shape == shape.name and r.dialect == shape.dialect), key=lambda r: r.threads
        )
        if not sized or shape.target is None:
            continue
        label = f"{shape.dialect} {shape.name}"
        sizes = ", ".join(f"{r.threads}" for r in sized)
        if shape.target == "offset":
            units = ", ".join(f"{r.read_units:g} at {r.threads}" for r in sized)
            lines.append(f"{label}: read units {units}")
            continue
        if shape.target == "steady":
            read = ", ".join(str(r.items_read) for r in sized)
            growth = sized[-1].items_read / max(1, sized[0].items_read)
            verdict = "n/a (one size)" if len(sized) < 2 else _verdict(growth <= STEADY_GROWTH)
            lines.append(f"{label}: items read {read} (at {sizes}), x{growth:.2f}: {verdict}")
            continue
        entries = ", ".join(str(r.index_entries) for r in sized)
        bounded = all(r.index_entries <= r.page_size + 1 for r in sized)
        if shape.target == "page":
            steady = _steady(sized, lambda r: r.index_entries)
            lines.append(
                f"{label}: index entries {entries} (at {sizes}) ≤ page + 1 = {sized[0].page_size + 1}:"
                f" {_verdict(bounded)}; same at every size: {steady}"
            )
        else:
            bounded = bounded and all(r.items_fetched <= 2 * r.page_size for r in sized)
            read = ", ".join(str(r.items_read) for r in sized)
            counters = ", ".join(str(r.items_read - r.index_entries - r.items_fetched) for r in sized)
            lines.append(
                f"{label}: items read {read} = index entries {entries} + fetched"
                f" {', '.join(str(r.items_fetched) for r in sized)} + counter reads {counters} (at {sizes}):"
                f" within page + 1 + page fetched: {_verdict(bounded)}; same at every size:"
                f" {_steady(sized, lambda r: r.items_read)}"
            )
    return lines


def _steady(sized: Sequence[ListRow], value: Callable[[ListRow], int]) -> str:
    if len(sized) < 2:
        return "n/a (one size)"
    small, large = sized[0], sized[-1]
    if value(small) == value(large):
        return "met"
    if small.returned < small.page_size:
        return f"n/a (the whole list fits in a page at {small.threads})"
    return f"NOT MET ({value(small)} → {value(large)})"


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def _table(columns: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    widths = [max(len(c), *(len(line[i]) for line in lines)) if lines else len(c) for i, c in enumerate(columns)]

    def fmt(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True))]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(columns), rule, *(fmt(line) for line in lines)])


# ----- command line -------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m threadline_tools.bench_list", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="tenant sizes, comma-separated")
    parser.add_argument("--shapes", help="only these shapes, ';'-separated names (both dialects)")
    parser.add_argument("--skip-writes", action="store_true", help="measure the lists only")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory of list.json and list_writes.json")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    shapes = SHAPES
    if args.shapes:
        wanted = {s.strip() for s in args.shapes.split(";")}
        shapes = [s for s in SHAPES if s.name in wanted]
        unknown = wanted - {s.name for s in shapes}
        if unknown:
            parser.error(f"no such shape: {', '.join(sorted(unknown))}")

    def progress(message: str) -> None:
        print(f"… {message}", file=sys.stderr, flush=True)

    lists, writes = run(sizes, shapes, writes=not args.skip_writes, progress=progress)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "list.json").write_text(json.dumps([asdict(r) for r in lists], indent=2) + "\n")
    print(render_lists(lists))
    print("\ntargets")
    print("\n".join(f"  {line}" for line in targets(lists, shapes)))
    if not args.skip_writes:
        (args.out / "list_writes.json").write_text(json.dumps([asdict(r) for r in writes], indent=2) + "\n")
        print()
        print(render_writes(writes))
    print(f"\n(rows in {args.out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
