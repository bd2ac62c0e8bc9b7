"""The DynamoDB key design, in one place. Nothing else builds key strings.

Threads table (``pk``/``sk``), one partition per thread, so a thread and its
steps come back in one Query and another tenant's id is simply absent::

    thread   pk = T#<org_id>#<thread_id>   sk = THREAD
    step     pk = T#<org_id>#<thread_id>   sk = STEP#<position>#<step name>

Listing is served by sparse GSIs on attributes only thread items carry. Every
partition value starts with the org id, so no list can reach another tenant:

    dimension  partition attribute   value                          sort keys
    org        gsi_org               <org>                          created_at, updated_at
    status     gsi_status            <org>#<status>                 created_at, updated_at
    type       gsi_type              <org>#<type>                   created_at, updated_at
    context    gsi_context           <org>#<context_type>#<ctx id>  created_at, updated_at
    project    gsi_project           <org>#<project_id>             created_at, updated_at

Keys table (``key_hash``): one item per API key, addressed by the SHA-256 of
the secret; ``org_id``/``created_at`` GSI lists an org's keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the authorizer imports this module: no pydantic at run time
    from threadline.models.listing import SortField

THREAD_SK = "THREAD"
STEP_SK_PREFIX = "STEP#"

Dimension = Literal["org", "status", "type", "context", "project"]

DIMENSION_ATTRIBUTES: dict[Dimension, str] = {
    "org": "gsi_org",
    "status": "gsi_status",
    "type": "gsi_type",
    "context": "gsi_context",
    "project": "gsi_project",
}

KEYS_BY_ORG_INDEX = "by_org"


def thread_pk(org_id: str, thread_id: str) -> str:
    """Partition of one thread and its steps."""
    return f"T#{org_id}#{thread_id}"


def thread_key(org_id: str, thread_id: str) -> dict[str, str]:
    """Primary key of a thread item (plain strings; the store adds types)."""
    return {"pk": thread_pk(org_id, thread_id), "sk": THREAD_SK}


def step_sk(position: int, name: str) -> str:
    """Sort key of a step: its position in the agent type's plan, so steps sort in the
    order they start (a parallel group shares consecutive positions) and a replayed
    step write lands on the same item instead of adding one."""
    return f"{STEP_SK_PREFIX}{position:03d}#{name}"


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

    def attributes(self) -> dict[str, str]:
        """GSI partition attributes for the thread item."""
        return {
            "gsi_org": dimension_partition("org", self.org_id),
            "gsi_status": dimension_partition("status", self.org_id, self.status),
            "gsi_type": dimension_partition("type", self.org_id, self.type),
            "gsi_context": dimension_partition("context", self.org_id, self.context_type, self.context_id),
            "gsi_project": dimension_partition("project", self.org_id, self.project_id),
        }


def dimension_partition(dimension: Dimension, org_id: str, *values: str) -> str:
    """GSI partition value of ``dimension`` (``org`` takes no values), e.g. ``acme#running``."""
    return "#".join((org_id, *values))


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
