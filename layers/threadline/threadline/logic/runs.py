"""Runs of threads (SPEC §3, "Run object"): start one on a thread (or with a new thread), read one
with its steps, output and pending interrupts, list a thread's, cancel one, answer its
interrupts, rate its work.

A run's live status is its thread's (the thread's status is its latest run's); a run another one
superseded keeps its final status on its item. One active run per thread: a thread's next run
starts only once the current one finished, in one transaction with the thread's move back to
``running`` (``RunStore.start``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

from threadline.errors import ConflictError, InvalidParameterError, NotFoundError
from threadline.logic.cancel_thread import cancel_thread
from threadline.logic.contexts import require_context
from threadline.logic.create_thread import create_thread, launch_run, refuse_unfinishable
from threadline.logic.get_thread import is_thread_id, visible_thread
from threadline.logic.resolve_step import allowed_decisions, answer_interrupt, decision_outcome, waiting_step
from threadline.models.domain import (
    ACTIVE_STATUSES,
    Decision,
    Feedback,
    NewFeedback,
    NewRun,
    Requester,
    Run,
    RunAction,
    RunDetail,
    Step,
    Tenant,
    Thread,
)
from threadline.models.listing import PageRequest, RunFilter, RunPage
from threadline.models.workflow import StepOutcome
from threadline.store import keys
from threadline.store.contexts import ContextStore
from threadline.store.runs import RunStore, page_of, thread_runs
from threadline.store.steps import StepStore
from threadline.store.thread_status import ThreadStatusStore
from threadline.store.threads import ThreadStore
from threadline.timeutil import now_iso
from threadline.workflow.agent_types import agent_type
from threadline.workflow.executions import WorkflowRunner

_ATTEMPTS = 5


def create_run(
    tenant: Tenant,
    request: NewRun,
    *,
    store: ThreadStore,
    statuses: ThreadStatusStore,
    runner: WorkflowRunner,
    contexts: ContextStore,
    runs: RunStore,
    workflow_type: str,
) -> RunDetail:
    """Start a run: on the caller's thread ``thread_id`` (409 while another run of it is active),
    or on a new thread made from the request's context, as ``POST /v1/threads`` makes one."""
    if request.thread_id is None:
        thread = create_thread(
            tenant,
            request.to_new_thread(),
            store=store,
            statuses=statuses,
            runner=runner,
            contexts=contexts,
            run_input=request.input,
            workflow_type=workflow_type,
        )
        return get_run(tenant, thread.run_id or thread.id, store=store, runs=runs)
    request.check_for_thread()
    thread = _thread_of(tenant, request.thread_id, store, parameter="thread_id")
    if request.type != thread.type:
        raise InvalidParameterError(f"Thread {thread.id} runs {thread.type}; a run of it is of that type", "type")
    agent = agent_type(thread.type)
    if agent is None:  # an agent type no longer registered
        raise InvalidParameterError(f"Agent type {thread.type} is no longer registered", "type")
    policy = request.interrupt_policy or "manual"
    refuse_unfinishable(agent, policy, workflow_type)
    require_context(tenant, thread.context_type, thread.context_id, parameter="thread_id", store=contexts)
    for _ in range(_ATTEMPTS):
        if thread.status in ACTIVE_STATUSES:
            raise ConflictError(f"Run {thread.run_id} of thread {thread.id} is still {thread.status}", "thread_id")
        now = now_iso()
        run = Run(
            id=str(uuid.uuid4()),
            thread_id=thread.id,
            org_id=thread.org_id,
            project_id=thread.project_id,
            seq=thread.run_seq + 1,
            agent=thread.type,
            interrupt_policy=policy,
            requester=Requester(type="api_key", id=tenant.key_id, name=tenant.key_name),
            input=request.input,
            created_at=now,
            updated_at=now,
        )
        superseded = _current(thread, runs.runs(thread.org_id, thread.id))
        running = keys.dimension_partition("status", thread.org_id, "running")
        if runs.start(thread, run, superseded, running):
            break
        thread = _thread_of(tenant, thread.id, store, parameter="thread_id")
    else:
        raise ConflictError("The thread kept changing while its run was starting; try again", "thread_id")
    started = thread.model_copy(
        update={"run_id": run.id, "run_seq": run.seq, "interrupt_policy": policy, "status": "running"}
    )
    launch_run(started, agent, request.input, statuses=statuses, runner=runner)
    return get_run(tenant, run.id, store=store, runs=runs)


def get_run(tenant: Tenant, run_id: str, *, store: ThreadStore, runs: RunStore) -> RunDetail:
    """One of the tenant's runs with its steps, output, pending interrupts and feedback."""
    thread, run = find_run(tenant, run_id, store=store, runs=runs)
    return detail(thread, run, runs.feedback(thread.org_id, thread.id, run.seq))


def cancel_run(
    tenant: Tenant, run_id: str, *, store: ThreadStore, steps: StepStore, runner: WorkflowRunner, runs: RunStore
) -> RunDetail:
    """Stop an active run (its thread is cancelled with it); 409 when it has finished."""
    thread, run = find_run(tenant, run_id, store=store, runs=runs)
    if run.status not in ("running", "interrupted"):
        raise ConflictError(f"Run {run_id} has already finished ({run.status})", "id")
    try:
        cancel_thread(tenant, thread.id, store=store, steps=steps, runner=runner, run_id=run.id)
    except ConflictError as error:  # it finished meanwhile
        raise ConflictError(f"Run {run_id} has already finished", "id") from error
    return get_run(tenant, run_id, store=store, runs=runs)


def act_on_run(
    tenant: Tenant,
    run_id: str,
    action: RunAction,
    *,
    store: ThreadStore,
    steps: StepStore,
    runner: WorkflowRunner,
    runs: RunStore,
) -> RunDetail:
    """A person's answer to one of the run's pending interrupts: a decision (which the step must
    accept), or a dismissal (the step completes without one, ``resolution: dismissed``); the run
    resumes. 404 for an interrupt the run does not have, 409 when it is not pending."""
    thread, run = find_run(tenant, run_id, store=store, runs=runs)
    if not any(s.id == action.interrupt_id and s.run_id == run.id for s in thread.steps):
        raise NotFoundError(f"No interrupt with id {action.interrupt_id[:64]} on this run", "interrupt_id")
    step = waiting_step(thread, action.interrupt_id, "interrupt_id")
    if action.type == "decision":
        if action.decision is None:
            raise InvalidParameterError("decision is required with type decision", "decision")
        outcome = decision_outcome(tenant, thread, step, Decision(decision=action.decision, note=action.note))
    else:
        if action.decision is not None:
            raise InvalidParameterError("a dismissal gives no decision", "decision")
        artifact = {
            "title": step.label or "Human decision",
            "type": "human_dismissal",
            "summary": f"dismissed by {tenant.key_name or tenant.key_id}",
            "content": {"note": action.note, "reviewer": tenant.key_id},
        }
        outcome = StepOutcome(
            artifacts_json=json.dumps([artifact], separators=(",", ":")),
            output_json=json.dumps({"dismissed": True}),
            resolution="dismissed",
        )
    answer_interrupt(tenant, thread, step, outcome, steps=steps, runner=runner)
    answered = get_run(tenant, run_id, store=store, runs=runs)
    # The step waits until the run records the answer (a moment later): it is pending no more.
    return answered.model_copy(update={"interrupts": [i for i in answered.interrupts if i["id"] != step.id]})


def give_feedback(tenant: Tenant, run_id: str, request: NewFeedback, *, store: ThreadStore, runs: RunStore) -> Feedback:
    """Rate one of the run's steps or artifacts (by type): 404 when the run has no such one."""
    thread, run = find_run(tenant, run_id, store=store, runs=runs)
    mine = [s for s in thread.steps if s.run_id == run.id]
    if request.step_id is not None and not any(s.id == request.step_id for s in mine):
        raise NotFoundError(f"No step with id {request.step_id[:64]} on this run", "step_id")
    types = {artifact.type for step in mine for artifact in step.artifacts}
    if request.artifact_type is not None and request.artifact_type not in types:
        raise NotFoundError(f"No artifact of type {request.artifact_type[:64]} on this run", "artifact_type")
    feedback = Feedback(
        id=str(uuid.uuid4()),
        run_id=run.id,
        step_id=request.step_id,
        artifact_type=request.artifact_type,
        rating=request.rating,
        comment=request.comment,
        requester=Requester(type="api_key", id=tenant.key_id, name=tenant.key_name),
        created_at=now_iso(),
    )
    runs.add_feedback(thread.org_id, thread.id, run.seq, feedback)
    return feedback


# ----- reading ------------------------------------------------------------------------------------


def find_run(
    tenant: Tenant, run_id: str, *, store: ThreadStore, runs: RunStore, with_details: bool = True
) -> tuple[Thread, Run]:
    """The tenant's run ``run_id`` and its thread (with its steps and user data, unless not
    ``with_details``): unknown, another tenant's or project's, or of a deleted thread → 404."""
    missing = NotFoundError(f"No run with id {run_id[:64]}", "id")
    if not is_thread_id(run_id):  # run ids are UUIDs, as thread ids
        raise missing
    located = runs.locate(tenant.org_id, run_id)
    thread_id, seq = located if located is not None else (run_id, 0)  # a thread's run from before runs
    try:
        thread = visible_thread(tenant, thread_id, store, with_steps=with_details, with_user_data=with_details)[0]
    except NotFoundError:
        raise missing from None
    run = next((r for r in thread_runs(thread, runs.runs(thread.org_id, thread.id)) if r.seq == seq), None)
    if run is None or run.id != run_id:
        raise missing
    return thread, run


def detail(thread: Thread, run: Run, feedback: list[Feedback]) -> RunDetail:
    """The run with its steps, its output (the artifacts of its last step that left some) and
    its pending interrupts."""
    steps = [s for s in thread.steps if s.run_id == run.id]
    finished = [s for s in steps if s.status == "completed" and s.artifacts]
    output = [a.model_dump() for a in finished[-1].artifacts] if finished else []
    pending = [_interrupt(thread, step, steps) for step in steps if step.status == "waiting"]
    return RunDetail(**run.model_dump(), steps=steps, output_artifacts=output, interrupts=pending, feedback=feedback)


def _interrupt(thread: Thread, step: Step, steps: list[Step]) -> dict[str, Any]:
    """A pending question for a person: the step, the decisions it accepts, and the decision
    proposed with the artifacts behind it (of the step its definition takes the proposal from)."""
    definition = agent_type(thread.type)
    declared = next((d for d in definition.steps if d.name == step.name), None) if definition else None
    proposal = declared.proposal if declared is not None else None
    source = next((s for s in steps if proposal is not None and s.name == proposal.step), None)
    proposed = (source.output or {}).get(proposal.key) if source is not None and proposal is not None else None
    return {
        "id": step.id,
        "agent": step.agent,
        "value": {
            "question": step.label,
            "decisions": list(allowed_decisions(thread, step)),
            "proposed_decision": proposed,
            "artifacts": [a.model_dump() for a in source.artifacts] if source is not None else [],
        },
    }


def _thread_of(
    tenant: Tenant, thread_id: str, store: ThreadStore, *, parameter: str, with_steps: bool = False
) -> Thread:
    try:
        return visible_thread(tenant, thread_id, store, with_steps=with_steps)[0]
    except NotFoundError as error:
        raise NotFoundError(error.message, parameter) from None


def _current(thread: Thread, stored: list[Run]) -> Run:
    """The thread's current run as it ended (a run is superseded only once finished)."""
    return next(run for run in thread_runs(thread, stored) if run.seq == thread.run_seq)


def list_runs(tenant: Tenant, wanted: RunFilter, page: PageRequest, *, store: ThreadStore, runs: RunStore) -> RunPage:
    """A page of the tenant's runs matching ``wanted`` (without their steps).

    The filter is narrowed to the tenant: another org, or another project than a restricted
    key's, matches nothing (an empty list, never an error). With ``thread_id``, the thread's runs
    (one Query of its partition: a thread's runs are few); else the org's, from the listing index.
    """
    empty = RunPage(runs=[], has_more=False, next_cursor=None, total_count=0 if page.with_total else None)
    if wanted.org_id != tenant.org_id:
        return empty
    if tenant.project_id is not None:
        if wanted.project_id not in (None, tenant.project_id):
            return empty
        wanted = replace(wanted, project_id=tenant.project_id)
    if wanted.thread_id is None:
        return runs.list_runs(wanted, page)
    try:
        thread = _thread_of(tenant, wanted.thread_id, store, parameter="thread_id")
    except NotFoundError:
        return empty  # a filter naming no thread of the tenant's matches nothing
    matching = [detail(thread, run, []) for run in thread_runs(thread, runs.runs(thread.org_id, thread.id))]
    matching = [run for run in matching if wanted.matches(run)]
    return page_of(matching, page)
