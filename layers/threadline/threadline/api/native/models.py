"""Wire models of the native dialect's threads and steps: request bodies (each parsed into a
domain value here) and response shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from threadline.models.domain import (
    CONTEXT_TYPE_PATTERN,
    IDENTIFIER_PATTERN,
    Decision,
    NewThread,
    Requester,
    Step,
    Thread,
    ThreadChange,
    ThreadStatus,
)
from threadline.models.limits import check_metadata, check_user_data

Identifier = Annotated[StrictStr, Field(pattern=IDENTIFIER_PATTERN)]
ContextType = Annotated[StrictStr, Field(pattern=CONTEXT_TYPE_PATTERN)]
Metadata = Annotated[dict[str, Any], AfterValidator(check_metadata)]
UserData = Annotated[StrictStr, AfterValidator(check_user_data)]
InterruptPolicyField = Literal["manual", "auto_approve", "skip"]


class CreateThreadRequest(BaseModel):
    """Body of ``POST /v1/threads``: unknown fields are rejected."""

    # The example is what the local server's banner creates (and what the fuzz test's requests start from).
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"type": "cip_orchestrator", "business_id": "biz_123"}]}
    )

    type: StrictStr = Field(description="The agent type, e.g. cip_orchestrator (see GET /v1/agents).")
    business_id: Identifier | None = Field(default=None, description="Shorthand for context_type=business.")
    context_type: ContextType | None = None
    context_id: Identifier | None = None
    project_id: Identifier | None = Field(default=None, description="Defaults to the key's project, else 'default'.")
    metadata: Metadata | None = Field(default=None, description="Unencrypted, filterable key-value data.")
    user_data: UserData | None = Field(default=None, description="Opaque string, encrypted at rest.")
    interrupt_policy: InterruptPolicyField | None = Field(
        default=None,
        description="How the first run's interrupt steps are answered: manual (a human, the default),"
        " auto_approve (the agent's proposed decision) or skip. An Express deployment refuses manual for"
        " agent types that may wait for a human.",
    )

    def to_new_thread(self) -> NewThread:
        """The thread this request asks for (its context is resolved by logic, after the type)."""
        return NewThread.model_validate(self.model_dump())


class UpdateThreadRequest(BaseModel):
    """Body of ``PATCH /v1/threads/{id}``: only these fields; unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Any] | None = Field(
        default=None,
        description="Keys to merge into the thread's metadata: a key set to null is removed, others replace"
        " their value (whole, nested objects too); null removes all metadata. The result must meet the"
        " metadata limits.",
    )
    user_data: UserData | None = Field(default=None, description="Replaces the user data; null removes it.")

    def to_change(self) -> ThreadChange:
        """The change this request asks for (a field absent changes nothing)."""
        given = self.model_fields_set
        return ThreadChange(
            metadata=self.metadata,
            user_data=self.user_data,
            sets_metadata="metadata" in given,
            sets_user_data="user_data" in given,
        )


class ThreadSummaryOut(BaseModel):
    """A thread without its steps, as listed."""

    object: Literal["thread"] = "thread"
    id: str
    type: str
    status: ThreadStatus
    created_at: str
    updated_at: str
    org_id: str
    project_id: str
    context_type: str
    context_id: str
    business_id: str | None
    metadata: dict[str, Any] | None
    user_data: str | None
    requester: Requester | None
    deleted: bool
    deleted_at: str | None
    deleted_by: str | None

    @classmethod
    def fields_of(cls, thread: Thread) -> dict[str, Any]:
        """The wire fields shared by the summary and the full thread."""
        return {
            "id": thread.id,
            "type": thread.type,
            "status": thread.status,
            "created_at": thread.created_at,
            "updated_at": thread.updated_at,
            "org_id": thread.org_id,
            "project_id": thread.project_id,
            "context_type": thread.context_type,
            "context_id": thread.context_id,
            "business_id": thread.context_id if thread.context_type == "business" else None,
            "metadata": thread.metadata,
            "user_data": thread.user_data,
            "requester": thread.requester,
            "deleted": thread.deleted,
            "deleted_at": thread.deleted_at,
            "deleted_by": thread.deleted_by,
        }

    @classmethod
    def from_thread(cls, thread: Thread) -> ThreadSummaryOut:
        """Shape a domain thread for a list."""
        return cls(**cls.fields_of(thread))


class ThreadOut(ThreadSummaryOut):
    """A thread with its steps, in the order they started."""

    steps: list[Step]

    @classmethod
    def from_thread(cls, thread: Thread) -> ThreadOut:
        """Shape a domain thread with its steps."""
        return cls(**cls.fields_of(thread), steps=thread.steps)


class ThreadListOut(BaseModel):
    """Reply of ``GET /v1/threads``."""

    object: Literal["list"] = "list"
    data: list[ThreadSummaryOut]
    has_more: bool
    total_count: int | None = Field(
        description="Threads matching the filters; null with cursor paging (limit/cursor), which does not count."
    )
    next_cursor: str | None


class ResolveStepRequest(BaseModel):
    """Body of ``POST /v1/threads/{id}/steps/{step_id}/resolve``: a human's decision."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"decision": "approve", "note": "Checked the registry"}]}
    )

    decision: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z_]{0,63}$")] = Field(
        description="One of the decisions the step accepts (see GET /v1/agents), e.g. approve or reject."
    )
    note: Annotated[StrictStr, Field(max_length=4000)] | None = Field(default=None, description="Why, for the record.")

    def to_decision(self) -> Decision:
        """The decision this request gives."""
        return Decision(decision=self.decision, note=self.note)


class StepListOut(BaseModel):
    """Reply of ``GET /v1/threads/{id}/steps``."""

    object: Literal["list"] = "list"
    data: list[Step]
    has_more: bool
    next_cursor: str | None
