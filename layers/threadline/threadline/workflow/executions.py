"""Starting and stopping a thread's workflow execution on Step Functions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from threadline.models.domain import Thread
from threadline.store import keys
from threadline.workflow.registry import AgentType

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class WorkflowRunner:
    """Runs threads on the one state machine."""

    def __init__(self, client: Callable[[], SFNClient], state_machine_arn: str) -> None:
        # A factory, not a client: a delete of a finished thread never needs Step Functions.
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, thread: Thread, agent: AgentType) -> None:
        """Start the thread's execution, named after the thread so a retry cannot start two."""
        self._sfn().start_execution(
            stateMachineArn=self._arn,
            name=thread.id,
            input=json.dumps(execution_input(thread, agent)),
        )

    def stop(self, execution_name: str) -> None:
        """Stop a thread's execution; one that is gone or finished is left alone."""
        sfn = self._sfn()
        try:
            sfn.stop_execution(executionArn=self.execution_arn(execution_name), cause="thread cancelled")
        except sfn.exceptions.ExecutionDoesNotExist:
            pass

    def send_decision(self, token: str, output: dict[str, str]) -> bool:
        """Resume a task waiting on ``token``; False when it is no longer waiting (timed out)."""
        sfn = self._sfn()
        try:
            sfn.send_task_success(taskToken=token, output=json.dumps(output))
        except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist):
            return False
        return True

    def execution_arn(self, execution_name: str) -> str:
        """``arn:aws:states:…:execution:<machine>:<name>`` of an execution of this machine."""
        return f"{self._arn.replace(':stateMachine:', ':execution:', 1)}:{execution_name}"


def step_id(thread_id: str, step_name: str) -> str:
    """A step's id: derived from the thread and the step, so a replayed write is the same step."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"threadline:{thread_id}:{step_name}"))


def execution_input(thread: Thread, agent: AgentType) -> dict[str, Any]:
    """What the state machine needs: the thread, its key, its status partitions and
    its plan (stages of steps, each with its item and key precomputed).

    Keys are computed here (``store.keys``) so the ASL never builds one.
    """
    pk = keys.thread_pk(thread.org_id, thread.id)
    ids = {step.name: step_id(thread.id, step.name) for step in agent.steps}
    stages: list[list[dict[str, Any]]] = []
    position = 0
    for stage in agent.stages():
        planned = []
        for step in stage:
            position += 1
            sk = keys.step_sk(position, step.name)
            parent = {"S": ids[step.parent]} if step.parent else {"NULL": True}
            planned.append(
                {
                    "name": step.name,
                    "agent": step.agent,
                    "type": step.type,
                    "timeout_seconds": step.timeout_seconds,
                    "condition": asdict(step.when) if step.when else None,
                    "key": {"pk": {"S": pk}, "sk": {"S": sk}},
                    # The step item as first recorded; the state machine adds started_at and run_id.
                    "item": {
                        "pk": {"S": pk},
                        "sk": {"S": sk},
                        "id": {"S": ids[step.name]},
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
        stages.append(planned)
    return {
        "thread": {
            "id": thread.id,
            "type": thread.type,
            "org_id": thread.org_id,
            "project_id": thread.project_id,
            "context_type": thread.context_type,
            "context_id": thread.context_id,
        },
        "thread_key": keys.thread_key(thread.org_id, thread.id),
        "status_partitions": {
            status: keys.dimension_partition("status", thread.org_id, status)
            for status in ("running", "interrupted", "completed", "failed", "cancelled")
        },
        "stages": stages,
    }
