"""The plan of a thread's execution: its steps' keys and first items, made here because only
the store knows the key design (the ASL writes these items and keys as they are)."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from threadline.models.agent_types import AgentType
from threadline.models.domain import THREAD_STATUSES, Thread
from threadline.models.workflow import ExecutionInput, PlannedStep, RunRef, ThreadKey, ThreadRef
from threadline.store import keys


def step_id(thread_id: str, step_name: str, run: RunRef | None = None) -> str:
    """A step's id: derived from the thread, the run and the step, so a replayed write is the same
    step and a re-run's is another (run 0, from before runs, is derived from the thread alone)."""
    scope = f"{thread_id}:{run.id}" if run is not None and run.seq else thread_id
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"threadline:{scope}:{step_name}"))


def plan_execution(thread: Thread, agent: AgentType, run: RunRef) -> ExecutionInput:
    """What the state machine needs: the thread, the run, the thread's key and status partitions
    and the run's plan (stages of steps, each with its item and key precomputed)."""
    pk = keys.thread_pk(thread.org_id, thread.id)
    ids = {step.name: step_id(thread.id, step.name, run) for step in agent.steps}
    stages: list[list[PlannedStep]] = []
    position = 0
    for stage in agent.stages():
        planned = []
        for step in stage:
            position += 1
            sk = keys.step_sk(position, step.name, run.seq)
            parent = {"S": ids[step.parent]} if step.parent else {"NULL": True}
            planned.append(
                PlannedStep.model_validate(
                    {
                        "name": step.name,
                        "agent": step.agent,
                        "type": step.type,
                        "timeout_seconds": step.timeout_seconds,
                        "condition": asdict(step.when) if step.when else None,
                        "wait": step.type == "interrupt" and run.interrupt_policy == "manual",
                        "proposal": asdict(step.proposal) if step.proposal else None,
                        "key": {"pk": {"S": pk}, "sk": {"S": sk}},
                        "item": {
                            "pk": {"S": pk},
                            "sk": {"S": sk},
                            "id": {"S": ids[step.name]},
                            "run_id": {"S": run.id},
                            "type": {"S": step.type},
                            "name": {"S": step.name},
                            "label": {"S": step.label},
                            "agent": {"S": step.agent},
                            "parent_step_id": parent,
                            "status": {"S": "running"},
                            "artifacts_json": {"S": "[]"},
                        },
                    }
                )
            )
        stages.append(planned)
    return ExecutionInput(
        thread=ThreadRef.model_validate(thread.model_dump(include=set(ThreadRef.model_fields))),
        run=run,
        thread_key=ThreadKey(**keys.thread_key(thread.org_id, thread.id)),
        status_partitions={
            status: keys.dimension_partition("status", thread.org_id, status) for status in THREAD_STATUSES
        },
        stages=stages,
    )


def planned_step_keys(org_id: str, thread_id: str, agent: AgentType, run_seq: int) -> list[str]:
    """The sort keys of every step a run of ``agent`` may record (started or not yet)."""
    steps = [step for stage in agent.stages() for step in stage]
    return [keys.step_sk(position, step.name, run_seq) for position, step in enumerate(steps, 1)]
