"""A thread's runs: the run items (in the thread's partition) and their listing entries (each a
thread header of the org's runs, ``store.keys``), which also find a run's thread from its id.

A run's live status is its thread's (``store.thread_status`` moves it); the run item keeps what
the run was created with, and its final status once another run supersedes it. The entries follow
the thread's stored changes: the indexer (``functions/index_threads``) mirrors each change of a
thread header onto its current run's entry (:meth:`RunStore.mirror`), and the threads' own
listing indexes and counters then list and count the entries as they do threads
(``docs/architecture.md``, "Runs")."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from threadline.errors import InvalidParameterError
from threadline.models.domain import (
    ACTIVE_STATUSES,
    RUN_STATUS_OF,
    THREAD_STATUS_OF,
    Feedback,
    Requester,
    Run,
    RunDetail,
    Thread,
)
from threadline.models.listing import PageRequest, RunFilter, RunPage, ThreadFilter
from threadline.store import keys
from threadline.store.items import deserialize, lost_race, query_prefix, serialize, thread_from_header
from threadline.store.thread_list import ThreadLister
from threadline.timeutil import normalize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def run_item(run: Run) -> dict[str, Any]:
    """A run as stored (its input as JSON text: any JSON object, never a DynamoDB type question)."""
    item = run.model_dump(exclude={"input"}, exclude_none=True)
    if run.input is not None:
        item["input_json"] = json.dumps(run.input, separators=(",", ":"))
    return {**item, **keys.run_key(run.org_id, run.thread_id, run.seq)}


def run_entry(run: Run, thread_deleted: bool, version: int) -> dict[str, Any]:
    """A run's listing entry as of its thread's ``version``: a thread header of the org's runs
    (status in thread words, agent as type, thread as context) with the run's own fields."""
    header = {
        **keys.run_entry_key(run.org_id, run.id),
        "org_id": keys.runs_org(run.org_id),
        "id": run.id,
        "type": run.agent,
        "status": THREAD_STATUS_OF[run.status],
        "project_id": run.project_id,
        "context_type": keys.RUN_CONTEXT_TYPE,
        "context_id": run.thread_id,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "deleted": thread_deleted,
        "version": version,
        "thread_id": run.thread_id,
        "seq": run.seq,
        "interrupt_policy": run.interrupt_policy,
    }
    if run.ended_at is not None:
        header["ended_at"] = run.ended_at
    if run.requester is not None:
        header["requester"] = run.requester.model_dump()
    header.update(keys.ThreadDimensions.of(header).attributes())
    return header


def run_writes(table: str, run: Run, version: int) -> list[TransactWriteItemTypeDef]:
    """The writes that store a new run (its thread at ``version``): its item and its entry,
    neither overwriting one."""
    return [
        {"Put": {"TableName": table, "Item": serialize(item), "ConditionExpression": "attribute_not_exists(pk)"}}
        for item in (run_item(run), run_entry(run, thread_deleted=False, version=version))
    ]


class RunStore:
    """Runs of threads: their items, pointers and feedback, and starting a thread's next run."""

    def __init__(self, client: DynamoDBClient, table: str, cursor_secret: bytes = b"") -> None:
        self._db = client
        self._table = table
        self._cursor_secret = cursor_secret

    def locate(self, org_id: str, run_id: str) -> tuple[str, int] | None:
        """The thread and seq of the org's run ``run_id`` (None when it has no entry: unknown,
        another org's, or a thread's run from before runs not yet mirrored, named after its thread)."""
        reply = self._db.get_item(
            TableName=self._table, Key=serialize(keys.run_entry_key(org_id, run_id)), ConsistentRead=True
        )
        if "Item" not in reply:
            return None
        item = deserialize(reply["Item"])
        return str(item["thread_id"]), int(item["seq"])

    def runs(self, org_id: str, thread_id: str) -> list[Run]:
        """The run items of a thread, in the order its runs started."""
        items = self._query(org_id, thread_id, keys.RUN_SK_PREFIX)
        return [run_from_item(item) for item in items]

    def feedback(self, org_id: str, thread_id: str, run_seq: int) -> list[Feedback]:
        """The feedback given on one run, in the order given."""
        items = self._query(org_id, thread_id, keys.run_feedback_prefix(run_seq))
        return [Feedback.model_validate({k: v for k, v in i.items() if k in Feedback.model_fields}) for i in items]

    def add_feedback(self, org_id: str, thread_id: str, run_seq: int, feedback: Feedback) -> None:
        """Store one feedback (never overwriting one)."""
        item = {
            **feedback.model_dump(exclude_none=True),
            **keys.feedback_key(org_id, thread_id, run_seq, feedback.created_at, feedback.id),
        }
        self._db.put_item(TableName=self._table, Item=serialize(item), ConditionExpression="attribute_not_exists(pk)")

    def start(self, thread: Thread, run: Run, superseded: Run, status_partition: str) -> bool:
        """Make ``run`` the thread's current run, ``running``, and keep the run it supersedes as it
        ended (``superseded``, final), in one transaction: only if the thread is still at the
        version read, not deleted, and finished (one active run per thread). False otherwise."""
        header: TransactWriteItemTypeDef = {
            "Update": {
                "TableName": self._table,
                "Key": serialize(keys.thread_key(thread.org_id, thread.id)),
                "UpdateExpression": (
                    "SET execution_name = :run, run_seq = :seq, interrupt_policy = :policy, #status = :running,"
                    " gsi_status = :partition, updated_at = :now REMOVE ended_at ADD version :one"
                ),
                "ConditionExpression": (
                    "version = :expected AND deleted = :false AND #status IN (:completed, :failed, :cancelled)"
                ),
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": serialize(
                    {
                        ":run": run.id,
                        ":seq": run.seq,
                        ":policy": run.interrupt_policy,
                        ":running": "running",
                        ":partition": status_partition,
                        ":now": run.created_at,
                        ":one": 1,
                        ":expected": thread.version,
                        ":false": False,
                        ":completed": "completed",
                        ":failed": "failed",
                        ":cancelled": "cancelled",
                    }
                ),
            }
        }
        version = thread.version + 1
        kept: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": self._table, "Item": serialize(item)}}
            for item in (run_item(superseded), run_entry(superseded, thread_deleted=False, version=version))
        ]
        try:
            self._db.transact_write_items(TransactItems=[header, *kept, *run_writes(self._table, run, version)])
        except self._db.exceptions.TransactionCanceledException as error:
            if lost_race(error):
                return False
            raise
        return True

    def list_runs(self, wanted: RunFilter, page: PageRequest) -> RunPage:
        """A page of an org's runs: their entries listed as the threads of the org's runs are
        (the same indexes, counters and cursors, ``store.thread_list``). One thread's runs are
        read from its partition instead (``logic.runs.list_runs``): ``wanted.thread_id`` is not
        this list's."""
        if wanted.thread_id is not None:
            raise ValueError("a thread's runs are read from its partition")
        entries: dict[str, dict[str, Any]] = {}

        def fetch(pks: list[str], _with_user_data: bool) -> dict[str, Thread]:
            found = self._batch_get([{"pk": pk, "sk": keys.THREAD_SK} for pk in pks])
            entries.update({item["id"]: item for item in found})
            return {item["pk"]: thread_from_header(item) for item in found}

        as_threads = ThreadFilter(
            org_id=keys.runs_org(wanted.org_id),
            project_id=wanted.project_id,
            status=THREAD_STATUS_OF[wanted.status] if wanted.status is not None else None,  # type: ignore[index]
            type=wanted.agent,
        )
        listed = ThreadLister(self._db, self._table, fetch, self._cursor_secret).page(as_threads, page)
        return RunPage(
            runs=[RunDetail(**run_of_entry(entries[t.id]).model_dump()) for t in listed.threads],
            has_more=listed.has_more,
            next_cursor=listed.next_cursor,
            total_count=listed.total_count,
        )

    def mirror(self, old: dict[str, Any] | None, new: dict[str, Any]) -> int:
        """Bring the run entries of a thread in line with its header as stored (``new``; ``old``, as
        it was before the change): its current run's always, every run's when the thread was
        deleted or restored or started another run. Each write is conditional on the entry being
        older than the header, so a replayed or late change writes nothing. How many were written."""
        thread = thread_from_header(new)
        version = thread.version
        moved = old is None or bool(old.get("deleted")) != thread.deleted or old.get("run_seq") != new.get("run_seq")
        runs = thread_runs(thread, self.runs(thread.org_id, thread.id))
        written = 0
        for run in runs if moved else [r for r in runs if r.seq == thread.run_seq]:
            try:
                self._db.put_item(
                    TableName=self._table,
                    Item=serialize(run_entry(run, thread.deleted, version)),
                    ConditionExpression="attribute_not_exists(pk) OR version < :version",
                    ExpressionAttributeValues=serialize({":version": version}),
                )
                written += 1
            except self._db.exceptions.ConditionalCheckFailedException:
                pass  # the entry reflects this change, or a later one, already
        return written

    def _batch_get(self, wanted: list[dict[str, str]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 100):
            pending: dict[str, Any] = {self._table: {"Keys": [serialize(k) for k in wanted[start : start + 100]]}}
            while pending:
                reply = self._db.batch_get_item(RequestItems=pending)
                items += [deserialize(raw) for raw in reply.get("Responses", {}).get(self._table, [])]
                pending = reply.get("UnprocessedKeys") or {}
        return items

    def _query(self, org_id: str, thread_id: str, prefix: str) -> list[dict[str, Any]]:
        return query_prefix(self._db, self._table, keys.thread_pk(org_id, thread_id), prefix)


def thread_runs(thread: Thread, stored: list[Run], with_current: bool = False) -> list[Run]:
    """A thread's runs, in the order they started: those stored, a thread's run from before runs
    (stored only once superseded), and the current one as its thread says it is now (with
    ``with_current``, as far as the header tells it even when its item is not among ``stored``)."""
    runs = {run.seq: run for run in stored}
    if thread.first_run_seq == 0 and 0 not in runs:
        runs[0] = _header_run(thread, thread.id, 0)
    if with_current and thread.run_seq not in runs:
        runs[thread.run_seq] = _header_run(thread, thread.run_id or thread.id, thread.run_seq)
    current = runs.get(thread.run_seq)
    if current is not None:
        final = thread.status not in ACTIVE_STATUSES
        runs[thread.run_seq] = current.model_copy(
            update={
                "status": RUN_STATUS_OF[thread.status],
                "updated_at": thread.updated_at,
                "ended_at": (thread.ended_at or thread.updated_at) if final else None,
            }
        )
    return [runs[seq] for seq in sorted(runs)]


def _header_run(thread: Thread, run_id: str, seq: int) -> Run:
    """A run of the thread as its header tells it (its own item unread)."""
    return Run(
        id=run_id,
        thread_id=thread.id,
        org_id=thread.org_id,
        project_id=thread.project_id,
        seq=seq,
        agent=thread.type,
        interrupt_policy=thread.interrupt_policy if seq == thread.run_seq else "manual",
        requester=thread.requester,
        created_at=thread.created_at,
        updated_at=thread.updated_at,
    )


def run_of_entry(item: dict[str, Any]) -> Run:
    """The run a listing entry shows."""
    requester = item.get("requester")
    return Run(
        id=item["id"],
        thread_id=item["thread_id"],
        org_id=item["org_id"].removesuffix(keys.RUNS_ORG_SUFFIX),
        project_id=item["project_id"],
        seq=int(item["seq"]),
        agent=item["type"],
        interrupt_policy=item.get("interrupt_policy", "manual"),
        requester=Requester(**requester) if requester else None,
        status=RUN_STATUS_OF[item["status"]],
        created_at=normalize(item["created_at"]),
        updated_at=normalize(item["updated_at"]),
        ended_at=normalize(item["ended_at"]) if item.get("ended_at") else None,
    )


def run_from_item(item: dict[str, Any]) -> Run:
    """A run item as stored."""
    fields = {k: v for k, v in item.items() if k in Run.model_fields}
    if item.get("input_json"):
        fields["input"] = json.loads(item["input_json"])
    return Run.model_validate(fields)


def page_of(runs: list[RunDetail], page: PageRequest) -> RunPage:
    """A page of a short list read whole (a thread's runs): sorted, then cut at the offset or at
    the cursor (the position of the next run, as the previous page gave it)."""
    ordered = sorted(runs, key=lambda r: (getattr(r, page.sort), r.seq), reverse=page.descending)
    start = page.offset
    if page.cursor is not None:
        start = _cursor_position(page.cursor)
    window = ordered[start : start + page.limit]
    more = start + page.limit < len(ordered)
    cursor = _encode_position(start + page.limit) if more and not page.with_total else None
    return RunPage(
        runs=window,
        has_more=more,
        next_cursor=cursor,
        total_count=len(ordered) if page.with_total else None,
    )


def _encode_position(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"position": position}).encode()).decode().rstrip("=")


def _cursor_position(cursor: str) -> int:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = decoded["position"]
    except (ValueError, TypeError, KeyError) as error:
        raise InvalidParameterError("cursor is not a next_cursor of this list", "cursor") from error
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= 1_000_000:
        raise InvalidParameterError("cursor is not a next_cursor of this list", "cursor")
    return position
