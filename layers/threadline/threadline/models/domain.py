"""Domain models: what a thread and a step are, independent of any dialect."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

ThreadStatus = Literal["running", "interrupted", "completed", "failed", "cancelled"]
StepStatus = Literal["running", "completed", "failed", "cancelled", "waiting"]
# Identifiers a caller chooses (context types and ids, project ids). No '#': it separates
# the parts of the DynamoDB keys (store.keys).
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
CONTEXT_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
THREAD_STATUSES: tuple[ThreadStatus, ...] = get_args(ThreadStatus)
ACTIVE_STATUSES: frozenset[str] = frozenset({"running", "interrupted"})


class Tenant(BaseModel):
    """Who is calling: resolved from the API key by the authorizer."""

    org_id: str
    project_id: str | None = None
    scopes: frozenset[str] = frozenset()
    key_id: str
    key_name: str = ""


class Requester(BaseModel):
    """Who created a thread."""

    type: str = "api_key"
    id: str
    name: str = ""


class Artifact(BaseModel, extra="allow"):
    """A result an agent attached to a step; agents may add fields."""

    title: str
    type: str


class Step(BaseModel):
    """One step of a thread's workflow."""

    id: str
    run_id: str
    type: Literal["activity", "interrupt"] = "activity"
    name: str
    label: str = ""
    status: StepStatus
    started_at: str
    completed_at: str | None = None
    agent: str = ""
    parent_step_id: str | None = None
    artifacts: list[Artifact] = Field(default_factory=list)
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class Thread(BaseModel):
    """A thread as the domain sees it (``user_data`` decrypted)."""

    id: str
    type: str
    status: ThreadStatus
    org_id: str
    project_id: str
    context_type: str
    context_id: str
    metadata: dict[str, Any] | None = None
    user_data: str | None = None
    requester: Requester | None = None
    created_at: str
    updated_at: str
    deleted: bool = False
    deleted_at: str | None = None
    deleted_by: str | None = None
    version: int = 1
    steps: list[Step] = Field(default_factory=list)


class NewThread(BaseModel):
    """A thread to create, as a dialect's request asks for it (already well formed)."""

    type: str
    context_type: str
    context_id: str
    # The request field that named the context, so a 404 or 400 names what the caller sent.
    context_parameter: str = "context_id"
    project_id: str | None = None
    metadata: dict[str, Any] | None = None
    user_data: str | None = None


class Decision(BaseModel):
    """A human's decision on a waiting interrupt step."""

    decision: str
    note: str | None = None
