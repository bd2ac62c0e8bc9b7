"""Create a thread and start its workflow."""

from __future__ import annotations

import uuid

from threadline.errors import ForbiddenError, InvalidParameterError, WorkflowStartError
from threadline.logic.contexts import require_context
from threadline.models.domain import NewThread, Requester, Tenant, Thread
from threadline.store.contexts import ContextStore
from threadline.store.plan import plan_execution
from threadline.store.thread_status import ThreadStatusStore
from threadline.store.threads import ThreadStore
from threadline.timeutil import now_iso
from threadline.workflow.agent_types import AGENT_TYPES, agent_type
from threadline.workflow.executions import WorkflowRunner

DEFAULT_PROJECT = "default"


def create_thread(
    tenant: Tenant,
    request: NewThread,
    *,
    store: ThreadStore,
    statuses: ThreadStatusStore,
    runner: WorkflowRunner,
    contexts: ContextStore,
) -> Thread:
    """Store a new ``running`` thread and start its execution (named after it).

    The thread's context must exist in the tenant's org: else 404 naming the request's
    context field (``business_id`` or ``context_id``), as Middesk answers an unknown
    business, and nothing is created.
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

    created_at = now_iso()
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
    )
    store.create(thread, execution_name=thread.id)
    try:
        runner.start(thread.id, plan_execution(thread, agent))
    except Exception as error:
        statuses.move(thread.org_id, thread.id, "failed")
        raise WorkflowStartError("The thread's workflow could not be started; the thread is marked failed") from error
    return thread


def _project(tenant: Tenant, requested: str | None) -> str:
    if tenant.project_id is None:
        return requested or DEFAULT_PROJECT
    if requested is not None and requested != tenant.project_id:
        raise ForbiddenError(f"This API key is restricted to project {tenant.project_id}")
    return tenant.project_id
