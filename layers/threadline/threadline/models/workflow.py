"""The workflow contract: what the state machine is started with, what it asks of the agent
function, and what an agent takes and gives.

The execution input is made once, by the store (``store.plan``), which alone knows the key
design: the planned step items and keys arrive in DynamoDB's typed form because the ASL writes
them as they are (it never builds a key). The agent function parses its event once into an
:class:`AgentTask`; logic reads fields, never DynamoDB type tags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Contract(BaseModel):
    # What the ASL adds on the way (e.g. ``$.condition``) is not ours to reject.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ThreadRef(_Contract):
    """The thread an execution runs for (never its user_data or metadata: execution input is
    visible in the Step Functions console and history)."""

    id: str
    type: str
    org_id: str
    project_id: str
    context_type: str
    context_id: str


class StringAttribute(_Contract):
    """A DynamoDB string attribute value, ``{"S": "..."}``."""

    S: str


class ItemKey(_Contract):
    """A step item's primary key, typed as the ASL's ``Key`` parameter takes it."""

    pk: StringAttribute
    sk: StringAttribute


class ThreadKey(_Contract):
    """The thread item's primary key (plain strings; the ASL adds the type)."""

    pk: str
    sk: str


class StepCondition(_Contract):
    """Run the step only when the earlier step ``step``'s output has ``key`` equal to ``equals``."""

    step: str
    key: str
    equals: str | int | bool


InterruptPolicy = Literal["manual", "auto_approve", "skip"]
INTERRUPT_POLICIES: tuple[InterruptPolicy, ...] = ("manual", "auto_approve", "skip")


class RunRef(_Contract):
    """The run an execution is (its id names the execution): its place among the thread's runs
    and how its interrupt steps are answered."""

    id: str
    seq: int
    interrupt_policy: InterruptPolicy = "manual"
    # What the run was started with for its agents (POST /v1/runs ``input``; ≤ 16 KB as JSON).
    input: dict[str, Any] | None = None
    # The request that started it (API Gateway's request id): its agent function logs and traces
    # with it, so one id finds the request's logs, its trace and its execution.
    correlation_id: str | None = None


class StepProposal(_Contract):
    """Where an interrupt step's proposed decision is: ``key`` of the earlier step ``step``'s output."""

    step: str
    key: str


class PlannedStep(_Contract):
    """One step of the plan: what it runs, and its key and first item as recorded. ``wait``: the
    step waits for a human (an interrupt step of a ``manual`` run), so the state machine gives it
    a task token."""

    name: str
    agent: str
    type: Literal["activity", "interrupt"]
    timeout_seconds: int
    condition: StepCondition | None
    key: ItemKey
    # The step item as first recorded (DynamoDB typed); its start adds started_at.
    item: dict[str, Any]
    wait: bool = False
    proposal: StepProposal | None = None


class ExecutionInput(_Contract):
    """The input of an execution: the thread, its key, its status partitions and its plan
    (stages run one after another, the steps of a stage in parallel)."""

    thread: ThreadRef
    run: RunRef
    thread_key: ThreadKey
    status_partitions: dict[str, str]
    stages: list[list[PlannedStep]]


class AgentTask(_Contract):
    """What the state machine asks of the agent function for one step: ``run`` it (record its
    start, run its agent, record its end), or record that it ``wait``s for a human (with the task
    ``token``).

    Without ``run``, a task of an execution started before runs (an older definition):
    ``run`` only runs the agent and answers its :class:`StepOutcome`, ``check_condition``
    answers whether the step runs; that definition records the step itself.
    """

    action: Literal["run", "check_condition", "wait"]
    thread: ThreadRef
    step: PlannedStep
    run: RunRef | None = None
    token: str | None = None


class StepOutcome(_Contract):
    """What a step leaves on its item: artifacts and output, as JSON strings the ASL writes as they
    are, and (for an interrupt step a person answered) how it was answered."""

    artifacts_json: str
    output_json: str
    resolution: Literal["human", "dismissed"] = "human"


# ----- agents ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviousStep:
    """What an earlier step of the same thread produced."""

    name: str
    id: str
    status: str
    artifacts: list[dict[str, Any]]
    output: dict[str, Any]


@dataclass(frozen=True)
class AgentInput:
    """Everything an agent may use. Agents never call the network."""

    thread_id: str
    org_id: str
    step_name: str
    context_type: str
    context_id: str
    context: dict[str, Any]
    previous: dict[str, PreviousStep] = field(default_factory=dict)
    # The run's input (POST /v1/runs ``input``), empty when it was given none.
    input: dict[str, Any] = field(default_factory=dict)
    # Another context document of the same org (e.g. the operator's watchlist), or None.
    load_context: Callable[[str, str], dict[str, Any] | None] = lambda _type, _id: None


@dataclass(frozen=True)
class AgentResult:
    """An agent's artifacts (each with at least ``title`` and ``type``; agents add
    ``summary``, ``confidence``, ``content``, ``sources``) and a small machine-readable
    ``output`` later steps and conditions read (e.g. ``{"decision": "review"}``)."""

    artifacts: list[dict[str, Any]]
    output: dict[str, Any] = field(default_factory=dict)


Agent = Callable[[AgentInput], AgentResult]
