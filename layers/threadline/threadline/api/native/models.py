"""Wire models of the native dialect's threads, steps and runs: request bodies (each parsed into
a domain value here) and response shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from threadline.errors import InvalidParameterError
from threadline.models.domain import (
    CONTEXT_TYPE_PATTERN,
    IDENTIFIER_PATTERN,
    Artifact,
    Decision,
    Feedback,
    NewFeedback,
    NewRun,
    NewThread,
    Requester,
    Run,
    RunAction,
    RunDetail,
    RunStatus,
    Step,
    Thread,
    ThreadChange,
    ThreadStatus,
)
from threadline.models.limits import check_metadata, check_run_input, check_user_data

Identifier = Annotated[StrictStr, Field(pattern=IDENTIFIER_PATTERN)]
ContextType = Annotated[StrictStr, Field(pattern=CONTEXT_TYPE_PATTERN)]
Metadata = Annotated[dict[str, Any], AfterValidator(check_metadata)]
UserData = Annotated[StrictStr, AfterValidator(check_user_data)]
InterruptPolicyField = Literal["manual", "auto_approve", "skip"]
DecisionField = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z_]{0,63}$")]
NoteField = Annotated[StrictStr, Field(max_length=4000)]
RunInput = Annotated[dict[str, Any], AfterValidator(check_run_input)]
# Ids a client names in a body: long enough for any id of ours, short enough never to reach a key limit.
IdField = Annotated[StrictStr, Field(min_length=1, max_length=128)]


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

    decision: DecisionField = Field(
        description="One of the decisions the step accepts (see GET /v1/agents), e.g. approve or reject."
    )
    note: NoteField | None = Field(default=None, description="Why, for the record.")

    def to_decision(self) -> Decision:
        """The decision this request gives."""
        return Decision(decision=self.decision, note=self.note)


class StepListOut(BaseModel):
    """Reply of ``GET /v1/threads/{id}/steps``."""

    object: Literal["list"] = "list"
    data: list[Step]
    has_more: bool
    next_cursor: str | None


# ----- runs ---------------------------------------------------------------------------------------


class CreateRunRequest(BaseModel):
    """Body of ``POST /v1/runs``: a run on the thread ``thread_id``, or on a new thread made from a
    context as ``POST /v1/threads`` makes one. Unknown fields are rejected."""

    # The example names a business no test stores (the fuzz test's requests start from it: none runs).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"type": "cip_orchestrator", "business_id": "biz_123", "input": {"reason": "new filing"}}]
        },
    )

    type: StrictStr = Field(description="The agent type; on an existing thread, the thread's own.")
    thread_id: IdField | None = Field(
        default=None,
        description="A thread of the caller's to run again (409 while a run of it is active). Without it, the"
        " context fields below make a new thread, as POST /v1/threads does.",
    )
    business_id: Identifier | None = Field(default=None, description="Shorthand for context_type=business.")
    context_type: ContextType | None = None
    context_id: Identifier | None = None
    project_id: Identifier | None = Field(default=None, description="Defaults to the key's project, else 'default'.")
    metadata: Metadata | None = Field(default=None, description="The new thread's metadata (not with thread_id).")
    user_data: UserData | None = Field(default=None, description="The new thread's user data (not with thread_id).")
    input: RunInput | None = Field(
        default=None, description="A JSON object given to the run's agents, at most 16 KB as compact JSON."
    )
    interrupt_policy: InterruptPolicyField | None = Field(
        default=None,
        description="How the run's interrupt steps are answered: manual (a human, the default), auto_approve"
        " (the agent's proposed decision) or skip. An Express deployment refuses manual for agent types that"
        " may wait for a human.",
    )

    def to_new_run(self) -> NewRun:
        """The run this request asks for (its thread or context is resolved by logic)."""
        return NewRun.model_validate(self.model_dump())


class RunActionRequest(BaseModel):
    """Body of ``POST /v1/runs/{id}/actions``: a person's answer to one of the run's pending interrupts."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "decision",
                    "interrupt_id": "5b0e6f5c-7a1d-5d2b-9c3e-0f1a2b3c4d5e",
                    "decision": "approve",
                    "note": "Checked the registry",
                }
            ]
        },
    )

    type: Literal["decision", "dismissal"] = Field(
        description="decision: answer with one of the decisions the interrupt accepts; dismissal: close it"
        " without one (the step completes with resolution dismissed)."
    )
    interrupt_id: IdField = Field(description="The id of a pending interrupt of the run (its waiting step's id).")
    decision: DecisionField | None = Field(
        default=None, description="With type decision (required then): one of the interrupt's decisions."
    )
    note: NoteField | None = Field(default=None, description="Why, for the record.")

    def to_action(self) -> RunAction:
        """The answer this request gives (logic checks the decision against the interrupt)."""
        return RunAction(type=self.type, interrupt_id=self.interrupt_id, decision=self.decision, note=self.note)


class RunFeedbackRequest(BaseModel):
    """Body of ``POST /v1/runs/{id}/feedback``: a rating of one of the run's steps or artifact types."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"artifact_type": "human_decision", "rating": "positive", "comment": "Right call"}]
        },
    )

    artifact_type: IdField | None = Field(
        default=None, description="The type of one of the run's artifacts, e.g. human_decision (or give step_id)."
    )
    step_id: IdField | None = Field(default=None, description="The id of one of the run's steps (or artifact_type).")
    rating: Literal["positive", "negative"]
    comment: Annotated[StrictStr, Field(max_length=4000)] | None = None

    def to_feedback(self) -> NewFeedback:
        """The feedback this request gives: on exactly one of a step or an artifact type (else 400,
        naming the field)."""
        if self.artifact_type is None and self.step_id is None:
            raise InvalidParameterError("artifact_type or step_id is required", "artifact_type")
        if self.artifact_type is not None and self.step_id is not None:
            raise InvalidParameterError("give either artifact_type or step_id, not both", "step_id")
        return NewFeedback(
            artifact_type=self.artifact_type, step_id=self.step_id, rating=self.rating, comment=self.comment
        )


class FeedbackOut(BaseModel):
    """A rating given on a run."""

    object: Literal["feedback"] = "feedback"
    id: str
    run_id: str
    step_id: str | None
    artifact_type: str | None
    rating: Literal["positive", "negative"]
    comment: str | None
    requester: Requester | None
    created_at: str

    @classmethod
    def from_feedback(cls, feedback: Feedback) -> FeedbackOut:
        """Shape a domain feedback."""
        return cls(**feedback.model_dump())


class InterruptValueOut(BaseModel):
    """What a pending interrupt asks of a person."""

    question: str = Field(description="The waiting step's label.")
    decisions: list[str] = Field(description="The decisions it accepts.")
    proposed_decision: Any = Field(description="The agent's proposal (what auto_approve would take), or null.")
    artifacts: list[Artifact] = Field(description="The artifacts behind the proposal.")


class InterruptOut(BaseModel):
    """A pending question of a run for a person: answer it with ``POST /v1/runs/{id}/actions``."""

    id: str = Field(description="The waiting step's id (an action's interrupt_id).")
    value: InterruptValueOut
    agent: str


class RunOutputOut(BaseModel):
    """A run's final artifacts: those of its last completed step that left some (e.g. the decision)."""

    artifacts: list[Artifact]


class RunSummaryOut(BaseModel):
    """A run without its input, steps, output, interrupts and feedback, as listed (the list reads
    the runs' listing entries, which carry none of them: read one run for them)."""

    object: Literal["run"] = "run"
    id: str
    thread_id: str
    agent: str = Field(description="The agent type the run runs.")
    requester: Requester | None
    status: RunStatus
    created_at: str
    updated_at: str
    started_at: str
    ended_at: str | None
    interrupt_policy: InterruptPolicyField

    @classmethod
    def fields_of(cls, run: Run) -> dict[str, Any]:
        """The wire fields shared by the summary and the full run."""
        return {
            "id": run.id,
            "thread_id": run.thread_id,
            "agent": run.agent,
            "requester": run.requester,
            "status": run.status,
            "created_at": run.created_at,
            "updated_at": run.updated_at,
            "started_at": run.created_at,  # a run starts as it is created
            "ended_at": run.ended_at,
            "interrupt_policy": run.interrupt_policy,
        }

    @classmethod
    def from_run(cls, run: Run) -> RunSummaryOut:
        """Shape a domain run for a list."""
        return cls(**cls.fields_of(run))


class RunOut(RunSummaryOut):
    """A run with its input, steps (in the order they started), output, pending interrupts and feedback."""

    input: dict[str, Any] | None
    output: RunOutputOut
    interrupts: list[InterruptOut]
    steps: list[Step]
    feedback: list[FeedbackOut]

    @classmethod
    def from_run(cls, run: Run) -> RunOut:
        """Shape a domain run with its detail."""
        detail = run if isinstance(run, RunDetail) else RunDetail(**run.model_dump())
        return cls(
            **cls.fields_of(detail),
            input=detail.input,
            output=RunOutputOut(artifacts=[Artifact.model_validate(a) for a in detail.output_artifacts]),
            interrupts=[InterruptOut.model_validate(i) for i in detail.interrupts],
            steps=detail.steps,
            feedback=[FeedbackOut.from_feedback(f) for f in detail.feedback],
        )


class RunListOut(BaseModel):
    """Reply of ``GET /v1/runs``."""

    object: Literal["list"] = "list"
    data: list[RunSummaryOut]
    has_more: bool
    total_count: int | None = Field(
        description="Runs matching the filters; null with cursor paging (limit/cursor), which does not count."
    )
    next_cursor: str | None
