"""Create a thread and start its workflow."""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools import Logger

from threadline import faults, observability
from threadline.errors import ForbiddenError, InvalidParameterError, WorkflowStartError
from threadline.logic.contexts import require_context
from threadline.models.agent_types import AgentType
from threadline.models.domain import NewThread, Requester, Run, Tenant, Thread
from threadline.models.workflow import InterruptPolicy, RunRef
from threadline.store.contexts import ContextStore
from threadline.store.plan import plan_execution
from threadline.store.thread_status import ThreadStatusStore
from threadline.store.threads import ThreadStore
from threadline.timeutil import now_iso
from threadline.workflow.agent_types import AGENT_TYPES, agent_type
from threadline.workflow.executions import WorkflowRunner

DEFAULT_PROJECT = "default"
logger = Logger(service="threadline")


def create_thread(
    tenant: Tenant,
    request: NewThread,
    *,
    store: ThreadStore,
    statuses: ThreadStatusStore,
    runner: WorkflowRunner,
    contexts: ContextStore,
    run_input: dict[str, Any] | None = None,
    workflow_type: str = "STANDARD",
) -> Thread:
    """Store a new ``running`` thread with its first run, and start the run's execution (named
    after the run).

    The thread's context must exist in the tenant's org: else 404 naming the request's
    context field (``business_id`` or ``context_id``), as Middesk answers an unknown
    business, and nothing is created.

    Never a running thread without an execution (docs/operations.md, "Failures and retries"):
    a start that failed leaves the thread ``failed`` (``WorkflowStartError``, 503); one that
    timed out is looked up by name first, and answered as a success if it started.
    """
    agent = agent_type(request.type)
    if agent is None:
        known = ", ".join(sorted(AGENT_TYPES))
        raise InvalidParameterError(f"Unknown agent type '{request.type}'; known types: {known}", "type")
    context_type, context_id = request.context()
    if context_type not in agent.context_types:
        accepted = ", ".join(agent.context_types)
        parameter = "context_type" if request.business_id is None else "business_id"
        raise InvalidParameterError(f"{agent.name} works on context types: {accepted}", parameter)
    project_id = _project(tenant, request.project_id)
    require_context(tenant, context_type, context_id, parameter=request.context_parameter, store=contexts)

    policy: InterruptPolicy = request.interrupt_policy or "manual"
    refuse_unfinishable(agent, policy, workflow_type)
    created_at = now_iso()
    run_id = str(uuid.uuid4())
    thread = Thread(
        id=str(uuid.uuid4()),
        type=agent.name,
        status="running",
        org_id=tenant.org_id,
        project_id=project_id,
        context_type=context_type,
        context_id=context_id,
        metadata=request.metadata,
        user_data=request.user_data,
        requester=Requester(type="api_key", id=tenant.key_id, name=tenant.key_name),
        created_at=created_at,
        updated_at=created_at,
        run_id=run_id,
        run_seq=1,
        first_run_seq=1,
        interrupt_policy=policy,
    )
    run = Run(
        id=run_id,
        thread_id=thread.id,
        org_id=thread.org_id,
        project_id=project_id,
        seq=1,
        agent=agent.name,
        interrupt_policy=policy,
        requester=thread.requester,
        input=run_input,
        created_at=created_at,
        updated_at=created_at,
    )
    try:
        store.create(thread, run)
    except Exception as error:
        if faults.may_have_taken_effect(error):
            # The write timed out and may have been committed all the same: never leave that
            # thread running without an execution.
            _fail(thread, statuses)
        raise
    observability.count("ThreadsCreated", agent_type=agent.name)
    launch_run(thread, agent, run_input, statuses=statuses, runner=runner)
    return thread


def launch_run(
    thread: Thread,
    agent: AgentType,
    run_input: dict[str, Any] | None,
    *,
    statuses: ThreadStatusStore,
    runner: WorkflowRunner,
) -> None:
    """Start the execution of the thread's current run (stored ``running``), named after the run.

    Never a running run without an execution (docs/operations.md, "Failures and retries"): a
    start that failed leaves the thread ``failed`` (``WorkflowStartError``, 503); one that timed
    out is looked up by name first, and taken as a success if it started.
    """
    run_id = thread.run_id or thread.id
    run = RunRef(id=run_id, seq=thread.run_seq, interrupt_policy=thread.interrupt_policy, input=run_input)
    try:
        runner.start(run_id, plan_execution(thread, agent, run))
    except Exception as error:
        started = _execution_exists(runner, run_id) if faults.may_have_taken_effect(error) else False
        if started:
            return  # the call failed (timed out) after Step Functions had started the execution
        marked = _fail(thread, statuses)
        if marked is False:
            return  # it had left `running` already: only its execution moves it, so it ran
        if started is None:
            runner.try_stop(run_id)  # it may have started where Step Functions could not tell
        outcome = "the thread is marked failed" if marked else "the thread could not be marked failed"
        raise WorkflowStartError(
            f"The thread's workflow could not be started; {outcome}", retry_after=faults.retry_after(error)
        ) from error


def refuse_unfinishable(agent: AgentType, policy: str, workflow_type: str) -> None:
    """An Express workflow has no task tokens: a run that would wait for a human there could never
    finish, so it is refused (docs/agents.md, "Interrupt policies")."""
    if workflow_type == "EXPRESS" and policy == "manual" and any(s.type == "interrupt" for s in agent.steps):
        raise InvalidParameterError(
            f"{agent.name} may wait for a human, which this deployment's Express workflows cannot;"
            " give interrupt_policy auto_approve or skip",
            "interrupt_policy",
        )


def _execution_exists(runner: WorkflowRunner, name: str) -> bool | None:
    """Whether the execution of a start that failed exists after all (its name is the run's id,
    so asking is exact); None when Step Functions cannot say either."""
    try:
        return runner.was_started(name)
    except Exception as error:
        logger.warning("could not learn whether the execution started", extra=faults.describe(error))
        return None


def _fail(thread: Thread, statuses: ThreadStatusStore) -> bool | None:
    """Mark a thread whose workflow will not run ``failed``. False when it is not running any
    more (or not stored); None when the write failed too (logged with the thread's id: the one
    case that may leave a thread running without an execution)."""
    try:
        return statuses.move(thread.org_id, thread.id, "failed", run_id=thread.run_id)
    except Exception as error:
        logger.error(
            "a thread may be left running without an execution",
            extra={"thread_id": thread.id, **faults.describe(error)},
        )
        return None


def _project(tenant: Tenant, requested: str | None) -> str:
    if tenant.project_id is None:
        return requested or DEFAULT_PROJECT
    if requested is not None and requested != tenant.project_id:
        raise ForbiddenError(f"This API key is restricted to project {tenant.project_id}")
    return tenant.project_id
