"""Domain models: what a thread and a step are, independent of any dialect."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from threadline.errors import InvalidParameterError

ThreadStatus = Literal["running", "interrupted", "completed", "failed", "cancelled"]
StepStatus = Literal["running", "completed", "failed", "cancelled", "waiting"]
# Identifiers a caller chooses (context types and ids, project ids). No '#': it separates
# the parts of the DynamoDB keys (store.keys).
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
CONTEXT_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
THREAD_STATUSES: tuple[ThreadStatus, ...] = get_args(ThreadStatus)
ACTIVE_STATUSES: frozenset[ThreadStatus] = frozenset({"running", "interrupted"})


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
    # How an interrupt step was decided: by a person through the API ("human"), or by its run's
    # interrupt policy ("auto_approved", "skipped"); None while it waits and for activities.
    resolution: Literal["human", "dismissed", "auto_approved", "skipped"] | None = None


RunStatus = Literal["running", "interrupted", "completed", "error", "cancelled"]
# A run's status is its thread's while it is the thread's current run (a failed thread's run is in error).
RUN_STATUS_OF: dict[ThreadStatus, RunStatus] = {
    "running": "running",
    "interrupted": "interrupted",
    "completed": "completed",
    "failed": "error",
    "cancelled": "cancelled",
}
THREAD_STATUS_OF: dict[RunStatus, ThreadStatus] = {run: thread for thread, run in RUN_STATUS_OF.items()}


class Run(BaseModel):
    """One execution of an agent type on a thread (its id names the execution). While it is its
    thread's current run, its status and ``ended_at`` are the thread's; a run another started
    after keeps them as they were then."""

    id: str
    thread_id: str
    org_id: str
    project_id: str
    seq: int
    agent: str
    interrupt_policy: Literal["manual", "auto_approve", "skip"] = "manual"
    requester: Requester | None = None
    input: dict[str, Any] | None = None
    status: RunStatus = "running"
    created_at: str
    updated_at: str
    ended_at: str | None = None


class Feedback(BaseModel):
    """A rating of one of a run's artifacts (by its type) or steps."""

    id: str
    run_id: str
    step_id: str | None = None
    artifact_type: str | None = None
    rating: Literal["positive", "negative"]
    comment: str | None = None
    requester: Requester | None = None
    created_at: str


class RunDetail(Run):
    """A run with its steps, its output (its last artifacts), its pending interrupts (questions
    for a person) and the feedback given on it."""

    steps: list[Step] = Field(default_factory=list)
    output_artifacts: list[dict[str, Any]] = Field(default_factory=list)
    interrupts: list[dict[str, Any]] = Field(default_factory=list)
    feedback: list[Feedback] = Field(default_factory=list)


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
    # When DynamoDB's TTL purges a deleted thread (epoch seconds), as stored: never on the wire.
    purge_at: int | None = None
    steps: list[Step] = Field(default_factory=list)
    # Stored user data that could not be decrypted (then ``user_data`` is None): never on the wire.
    user_data_unreadable: bool = False
    # The thread's current (latest) run: its id (the execution's name; a thread from before runs
    # has one run named after itself, seq 0), its place, its interrupt policy, when it ended.
    run_id: str | None = None
    run_seq: int = 0
    interrupt_policy: Literal["manual", "auto_approve", "skip"] = "manual"
    ended_at: str | None = None
    # 1 for a thread created with runs; 0 for one from before runs, whose first run (seq 0) is
    # named after the thread and has no run item until a later run supersedes it.
    first_run_seq: int = 0


class NewThread(BaseModel):
    """A thread to create, as a request asks for it (each field already well formed). Its
    context is ``business_id`` (shorthand for the business context type) or
    ``context_type`` with ``context_id``; errors name the field the caller sent."""

    type: str
    business_id: str | None = None
    context_type: str | None = None
    context_id: str | None = None
    project_id: str | None = None
    metadata: dict[str, Any] | None = None
    user_data: str | None = None
    interrupt_policy: Literal["manual", "auto_approve", "skip"] | None = None

    @property
    def context_parameter(self) -> str:
        """The request field that names the context."""
        return "business_id" if self.business_id is not None else "context_id"

    def context(self) -> tuple[str, str]:
        """The subject of the thread as (context_type, context_id).

        Checked here rather than in a model validator, whose error names no
        parameter: the error names the field at fault.
        """
        if self.business_id is not None:
            if self.context_type is not None or self.context_id is not None:
                given = "context_type" if self.context_type is not None else "context_id"
                raise InvalidParameterError(f"give either business_id or {given}, not both", "business_id")
            return "business", self.business_id
        if self.context_type is None and self.context_id is None:
            raise InvalidParameterError("business_id, or context_type and context_id, is required", "business_id")
        if self.context_id is None:
            raise InvalidParameterError("context_id is required with context_type", "context_id")
        if self.context_type is None:
            raise InvalidParameterError("context_type is required with context_id", "context_type")
        return self.context_type, self.context_id


class ThreadChange(BaseModel):
    """What a PATCH asks to change: metadata keys to merge (a ``None`` value removes its key;
    ``metadata`` itself ``None`` removes them all) and ``user_data`` to replace, each only
    when given (``sets_*``)."""

    metadata: dict[str, Any] | None = None
    user_data: str | None = None
    sets_metadata: bool = False
    sets_user_data: bool = False


class Decision(BaseModel):
    """A human's decision on a waiting interrupt step."""

    decision: str
    note: str | None = None


class NewRun(NewThread):
    """A run to start, as a request asks for it: on the thread ``thread_id``, or on a new thread
    made from the context fields (as a thread is created); ``input`` goes to its agents."""

    thread_id: str | None = None
    input: dict[str, Any] | None = None

    def to_new_thread(self) -> NewThread:
        """The thread this request creates with its run."""
        return NewThread.model_validate(self.model_dump(exclude={"thread_id", "input"}))

    def check_for_thread(self) -> None:
        """A run on an existing thread takes none of the fields that make a thread."""
        for name in ("business_id", "context_type", "context_id", "project_id", "metadata", "user_data"):
            if getattr(self, name) is not None:
                raise InvalidParameterError(
                    f"{name} makes a new thread: give it without thread_id (PATCH the thread to change it)", name
                )


class RunAction(BaseModel):
    """A person's answer to a run's pending interrupt (the waiting step ``interrupt_id``)."""

    type: Literal["decision", "dismissal"]
    interrupt_id: str
    decision: str | None = None
    note: str | None = None


class NewFeedback(BaseModel):
    """A rating of one of a run's steps (``step_id``) or artifacts (``artifact_type``): one of them."""

    step_id: str | None = None
    artifact_type: str | None = None
    rating: Literal["positive", "negative"]
    comment: str | None = None
