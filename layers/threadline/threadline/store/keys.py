"""The DynamoDB key design, in one place. Nothing else builds key strings.

Threads table (``pk``/``sk``), one partition per thread, so a thread and its
steps come back in one Query and another tenant's id is simply absent::

    feedback     pk = T#<org_id>#<thread_id>   sk = FEEDBACK#R<seq>#<created_at>#<id>   a rating of a run's work
    index state  pk = T#<org_id>#<thread_id>   sk = INDEXED          what the indexer last applied
    metadata     pk = T#<org_id>#<thread_id>   sk = META#<digest>    one per indexed metadata pair
    run          pk = T#<org_id>#<thread_id>   sk = RUN#<seq>            one per run of the thread
    step         pk = T#<org_id>#<thread_id>   sk = STEP#R<seq>#<position>#<step name>
    thread       pk = T#<org_id>#<thread_id>   sk = THREAD           the header: no user_data
    user data    pk = T#<org_id>#<thread_id>   sk = USER_DATA        the encrypted user_data

A run's steps carry its sequence number (1, 2, … in the order the thread's runs started), so a
re-run never overwrites an earlier run's steps and every step sorts in the order it started.
Threads from before runs have one run (``seq`` 0, named after the thread) whose steps are
``STEP#<position>#<step name>``: digits sort before ``R``, so they come first.

Each run also has a listing entry, shaped as a thread header of the org's *runs* (the org id
with ``~runs``, a character org ids never have), so the listing indexes, counters and indexer of
threads list and count runs too: its dimensions are the run's status (in thread words: ``failed``
for a run in error), its agent as ``type``, its thread as the context ``thread``/<thread_id>, and
its project. It finds a run's thread from the run's id::

    run entry    pk = T#<org_id>~runs#<run_id>  sk = THREAD          thread_id, seq, the run as listed

The sort keys sort in that order, so ``sk >= STEP#`` reads steps, header and user data
without the index items, and ``sk >= THREAD`` the header and user data alone.

Listing is served by sparse, keys-only GSIs on attributes only thread headers (and, for
metadata, metadata items) carry. Every partition value starts with the org id, so no list
can reach another tenant; a deleted thread's values end in ``#deleted``, so deleted threads
never sit in the way of a list of live ones:

    dimension  partition attribute   value                              sort keys
    org        gsi_org               <org>                              created_at, updated_at
    status     gsi_status            <org>#<status>                     created_at, updated_at
    type       gsi_type              <org>#<type>                       created_at, updated_at
    context    gsi_context           <org>#<context_type>#<ctx id>      created_at, updated_at
    project    gsi_project           <org>#<project_id>                 created_at, updated_at
    metadata   gsi_meta              <org>#<pair digest>                created_at, updated_at

Counters (``total_count``), in the threads table, sharded so no single item is hot; a
thread always counts in the shard its id hashes to::

    counter      pk = N#<org_id>#<counter>   sk = live#<shard> | deleted#<shard>   attribute n

``<counter>`` is ``org``, ``status#<status>``, ``type#<type>``, ``project#<project>``,
``context#<type>#<id>`` or ``meta#<digest>``.

Keys table (``key_hash``): one item per API key, addressed by the SHA-256 of
the secret; ``org_id``/``created_at`` GSI lists an org's keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the authorizer imports this module: no pydantic at run time
    from collections.abc import Mapping

    from threadline.models.listing import SortField

THREAD_SK = "THREAD"
USER_DATA_SK = "USER_DATA"
STEP_SK_PREFIX = "STEP#"
METADATA_SK_PREFIX = "META#"
INDEX_STATE_SK = "INDEXED"
COUNTER_PK_PREFIX = "N#"
COUNTER_SHARDS = 8
DELETED_SUFFIX = "#deleted"

Dimension = Literal["org", "status", "type", "context", "project", "metadata"]

DIMENSION_ATTRIBUTES: dict[Dimension, str] = {
    "org": "gsi_org",
    "status": "gsi_status",
    "type": "gsi_type",
    "context": "gsi_context",
    "project": "gsi_project",
    "metadata": "gsi_meta",
}

KEYS_BY_ORG_INDEX = "by_org"


THREAD_PK_PREFIX = "T#"


def thread_pk(org_id: str, thread_id: str) -> str:
    """Partition of one thread and its steps."""
    return f"{THREAD_PK_PREFIX}{org_id}#{thread_id}"


def thread_key(org_id: str, thread_id: str) -> dict[str, str]:
    """Primary key of a thread item (plain strings; the store adds types)."""
    return {"pk": thread_pk(org_id, thread_id), "sk": THREAD_SK}


def user_data_key(org_id: str, thread_id: str) -> dict[str, str]:
    """Primary key of a thread's user data item."""
    return {"pk": thread_pk(org_id, thread_id), "sk": USER_DATA_SK}


def index_state_key(org_id: str, thread_id: str) -> dict[str, str]:
    """Primary key of the record of what the indexer applied for a thread."""
    return {"pk": thread_pk(org_id, thread_id), "sk": INDEX_STATE_SK}


def metadata_key(org_id: str, thread_id: str, digest: str) -> dict[str, str]:
    """Primary key of the item that lists a thread under one metadata pair."""
    return {"pk": thread_pk(org_id, thread_id), "sk": f"{METADATA_SK_PREFIX}{digest}"}


def thread_key_of(pk: str) -> dict[str, str]:
    """The header key of the thread whose partition is ``pk`` (from any index entry)."""
    return {"pk": pk, "sk": THREAD_SK}


def step_sk(position: int, name: str, run_seq: int = 0) -> str:
    """Sort key of a step: its run, then its position in the agent type's plan, so steps sort
    in the order they start (a parallel group shares consecutive positions) and a replayed
    step write lands on the same item instead of adding one. Run 0 is a thread's one run
    from before runs."""
    return f"{run_steps_prefix(run_seq)}{position:03d}#{name}"


def run_steps_prefix(run_seq: int) -> str:
    """The sort key prefix of one run's steps (``STEP#`` alone also matches later runs' for run 0:
    readers of run 0 skip keys starting ``STEP#R``)."""
    return f"{STEP_SK_PREFIX}R{run_seq:04d}#" if run_seq else STEP_SK_PREFIX


def is_run_step_sk(sk: str) -> bool:
    """Whether a step's sort key names its run (not a step of a thread's run from before runs)."""
    return sk.startswith(f"{STEP_SK_PREFIX}R")


FEEDBACK_SK_PREFIX = "FEEDBACK#"


def feedback_key(org_id: str, thread_id: str, run_seq: int, created_at: str, feedback_id: str) -> dict[str, str]:
    """Primary key of a feedback item: in its thread's partition, by run, in the order given."""
    return {"pk": thread_pk(org_id, thread_id), "sk": f"{run_feedback_prefix(run_seq)}{created_at}#{feedback_id}"}


def run_feedback_prefix(run_seq: int) -> str:
    """The sort key prefix of one run's feedback."""
    return f"{FEEDBACK_SK_PREFIX}R{run_seq:04d}#"


RUN_SK_PREFIX = "RUN#"
RUNS_ORG_SUFFIX = "~runs"
RUN_CONTEXT_TYPE = "thread"


def run_key(org_id: str, thread_id: str, run_seq: int) -> dict[str, str]:
    """Primary key of a run item, in its thread's partition."""
    return {"pk": thread_pk(org_id, thread_id), "sk": f"{RUN_SK_PREFIX}{run_seq:04d}"}


def runs_org(org_id: str) -> str:
    """The org under which an org's run entries are listed and counted (as threads are)."""
    return f"{org_id}{RUNS_ORG_SUFFIX}"


def is_runs_org(org_id: str) -> bool:
    """Whether a thread header's org is an org's runs (the header is a run entry)."""
    return org_id.endswith(RUNS_ORG_SUFFIX)


def run_entry_key(org_id: str, run_id: str) -> dict[str, str]:
    """Primary key of a run's listing entry (which also finds the run's thread)."""
    return thread_key(runs_org(org_id), run_id)


def index_name(dimension: Dimension, sort: SortField) -> str:
    """Name of the GSI that lists one dimension in one order, e.g. ``by_status_created``."""
    return f"by_{dimension}_{sort.removesuffix('_at')}"


def all_index_names() -> list[tuple[str, str, str]]:
    """(index name, partition attribute, sort attribute) of every listing GSI."""
    return [
        (index_name(dim, sort), attr, sort)
        for dim, attr in DIMENSION_ATTRIBUTES.items()
        for sort in ("created_at", "updated_at")
    ]


@dataclass(frozen=True)
class ThreadDimensions:
    """The listing coordinates of one thread."""

    org_id: str
    status: str
    type: str
    context_type: str
    context_id: str
    project_id: str
    deleted: bool = False

    @classmethod
    def of(cls, fields: Mapping[str, Any], deleted: bool | None = None) -> ThreadDimensions:
        """The coordinates of a thread header's (or a thread's) fields; ``deleted`` as they say unless given."""
        return cls(
            org_id=fields["org_id"],
            status=fields["status"],
            type=fields["type"],
            context_type=fields["context_type"],
            context_id=fields["context_id"],
            project_id=fields["project_id"],
            deleted=bool(fields.get("deleted", False)) if deleted is None else deleted,
        )

    def values(self) -> dict[Dimension, tuple[str, ...]]:
        """The values of each header dimension (``org`` has none)."""
        return {
            "org": (),
            "status": (self.status,),
            "type": (self.type,),
            "context": (self.context_type, self.context_id),
            "project": (self.project_id,),
        }

    def attributes(self) -> dict[str, str]:
        """GSI partition attributes for the thread header."""
        return {
            DIMENSION_ATTRIBUTES[dimension]: dimension_partition(dimension, self.org_id, *values, deleted=self.deleted)
            for dimension, values in self.values().items()
        }

    def counters(self) -> list[str]:
        """The counters the thread counts in (besides its metadata pairs')."""
        return [counter_name(dimension, *values) for dimension, values in self.values().items()]


def dimension_partition(dimension: Dimension, org_id: str, *values: str, deleted: bool = False) -> str:
    """GSI partition value of ``dimension`` (``org`` takes no values), e.g. ``acme#running``;
    a deleted thread's ends in ``#deleted``. ``metadata`` takes a pair digest."""
    return "#".join((org_id, *values)) + (DELETED_SUFFIX if deleted else "")


def counter_name(dimension: Dimension, *values: str) -> str:
    """The counter of one dimension value, e.g. ``status#running`` (``metadata`` → ``meta#<digest>``)."""
    return "#".join(("meta" if dimension == "metadata" else dimension, *values))


def counter_pk(org_id: str, counter: str) -> str:
    """Partition of one counter's shards."""
    return f"{COUNTER_PK_PREFIX}{org_id}#{counter}"


def counter_sk(deleted: bool, shard: int) -> str:
    """Sort key of one shard of a counter's live or deleted count."""
    return f"{'deleted' if deleted else 'live'}#{shard}"


def counter_shard(thread_id: str) -> int:
    """The shard a thread counts in: stable, so its decrement meets its increment."""
    return hashlib.sha256(thread_id.encode()).digest()[0] % COUNTER_SHARDS


KEYS_BY_ID_INDEX = "by_key_id"


# ----- contexts -----------------------------------------------------------------------------
# A context document (the subject threads work on, e.g. a business), one item per org, type and
# id, in the threads table:
#
#     context  pk = C#<org_id>#<context_type>#<context_id>   sk = CONTEXT
#
# The org leads the key, so another org's context is simply absent. Context types and ids never
# contain '#' (models.domain patterns), so a key splits back unambiguously. Context items carry
# no gsi_* attribute: the sparse listing indexes never see them. IAM policies restrict the
# context functions to partitions starting with CONTEXT_PK_PREFIX (dynamodb:LeadingKeys).

CONTEXT_PK_PREFIX = "C#"
CONTEXT_SK = "CONTEXT"


def context_key(org_id: str, context_type: str, context_id: str) -> dict[str, str]:
    """Primary key of a context item (plain strings; the store adds types)."""
    if "#" in context_type or "#" in context_id:  # the edge's patterns exclude it: never a client's doing
        raise ValueError("a context type or id never contains '#'")
    return {"pk": f"{CONTEXT_PK_PREFIX}{org_id}#{context_type}#{context_id}", "sk": CONTEXT_SK}


# ----- events -------------------------------------------------------------------------------
# Events table (``pk``/``sk``), one partition per run, so a run's stream reads its events in
# order with one strongly consistent Query; a thread's own events (deleted, restored) go to its
# current run's partition::
#
#     event     pk = E#<org_id>#<run_id>   sk = <event id>
#
# Every event also carries listing attributes for four GSIs (projection ALL: events never
# change, so a list is one Query), each sorted by the event id, so ``after`` is a key condition
# everywhere; every partition value starts with the org id::
#
#     by_thread   gsi_thread  = <org_id>#<thread_id>
#     by_org      gsi_org     = <org_id>
#     by_type     gsi_type    = <org_id>#<event type>
#     by_project  gsi_project = <org_id>#<project_id>     (what a project's key lists)
#
# An event's id is the stream record's sequence number (which increases within a thread: a
# thread's items share a partition key, so their changes are recorded in one shard's order)
# followed by the event's position among the events of that one change.

EVENT_PK_PREFIX = "E#"
EVENT_ID_PREFIX = "evt_"
EVENT_SEQUENCE_DIGITS = 40  # DynamoDB Streams sequence numbers have 21 to 40 digits
EVENT_INDEXES: dict[str, tuple[str, str]] = {  # listing dimension → (index, partition attribute)
    "thread": ("by_thread", "gsi_thread"),
    "org": ("by_org", "gsi_org"),
    "type": ("by_type", "gsi_type"),
    "project": ("by_project", "gsi_project"),
}


def event_pk(org_id: str, run_id: str) -> str:
    """Partition of one run's events."""
    return f"{EVENT_PK_PREFIX}{org_id}#{run_id}"


def event_id(sequence_number: str, position: int) -> str:
    """The id of the ``position``-th event of the stored change with ``sequence_number``:
    increasing in the order the changes were stored, the same however often it is recorded."""
    if not sequence_number.isdigit() or len(sequence_number) > EVENT_SEQUENCE_DIGITS or not 0 <= position < 100:
        raise ValueError(f"not a stream sequence number and position: {sequence_number!r}, {position}")
    return f"{EVENT_ID_PREFIX}{int(sequence_number):0{EVENT_SEQUENCE_DIGITS}d}{position:02d}"


def event_key(org_id: str, run_id: str, event_id: str) -> dict[str, str]:
    """Primary key of an event item."""
    return {"pk": event_pk(org_id, run_id), "sk": event_id}


def event_listing(org_id: str, project_id: str, thread_id: str, event_type: str) -> dict[str, str]:
    """The GSI partition attributes of an event."""
    return {
        "gsi_thread": event_partition("thread", org_id, thread_id),
        "gsi_org": event_partition("org", org_id),
        "gsi_type": event_partition("type", org_id, event_type),
        "gsi_project": event_partition("project", org_id, project_id),
    }


def event_partition(dimension: str, org_id: str, *values: str) -> str:
    """The partition value of an event listing index, e.g. ``acme#run.created`` for ``type``."""
    return "#".join((org_id, *values))


def thread_of_pk(pk: str) -> tuple[str, str]:
    """The org and thread ids of a thread partition's key (org ids never contain '#')."""
    org_id, _, thread_id = pk.removeprefix(THREAD_PK_PREFIX).partition("#")
    return org_id, thread_id


# ----- webhooks -----------------------------------------------------------------------------
# Webhooks table (``pk``/``sk``): an org's endpoints in one partition (fan-out reads them with one
# Query per event), and each endpoint's delivery log in a partition of its own, newest last::
#
#     endpoint  pk = W#<org_id>                  sk = ENDPOINT#<endpoint_id>
#     attempt   pk = D#<org_id>#<endpoint_id>    sk = <attempted_at>#<attempt id>    TTL expires_at
#
# The org leads both, so another org's endpoint or log is simply absent. Endpoint ids are ours
# (``we_`` and hex), never containing '#'. IAM policies restrict the webhook functions to the
# partitions they touch (``dynamodb:LeadingKeys`` ``W#*`` / ``D#*``).

WEBHOOK_ENDPOINT_PK_PREFIX = "W#"
WEBHOOK_ENDPOINT_SK_PREFIX = "ENDPOINT#"
WEBHOOK_DELIVERY_PK_PREFIX = "D#"


def webhook_endpoints_pk(org_id: str) -> str:
    """Partition of an org's webhook endpoints."""
    return f"{WEBHOOK_ENDPOINT_PK_PREFIX}{org_id}"


def webhook_endpoint_key(org_id: str, endpoint_id: str) -> dict[str, str]:
    """Primary key of a webhook endpoint item."""
    if "#" in endpoint_id:  # ids are ours: never a client's doing
        raise ValueError("an endpoint id never contains '#'")
    return {"pk": webhook_endpoints_pk(org_id), "sk": f"{WEBHOOK_ENDPOINT_SK_PREFIX}{endpoint_id}"}


def webhook_deliveries_pk(org_id: str, endpoint_id: str) -> str:
    """Partition of one endpoint's delivery log."""
    return f"{WEBHOOK_DELIVERY_PK_PREFIX}{org_id}#{endpoint_id}"


def webhook_attempt_key(org_id: str, endpoint_id: str, attempted_at: str, attempt_id: str) -> dict[str, str]:
    """Primary key of one logged delivery attempt: sorted by when it was made."""
    return {"pk": webhook_deliveries_pk(org_id, endpoint_id), "sk": f"{attempted_at}#{attempt_id}"}
