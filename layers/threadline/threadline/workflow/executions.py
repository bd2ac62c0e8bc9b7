"""Starting and stopping a thread's workflow execution on Step Functions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from threadline.models.workflow import ExecutionInput, StepOutcome

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class WorkflowRunner:
    """Runs threads on the one state machine."""

    def __init__(self, client: Callable[[], SFNClient], state_machine_arn: str) -> None:
        # A factory, not a client: a delete of a finished thread never needs Step Functions.
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, execution_name: str, plan: ExecutionInput) -> None:
        """Start an execution of ``plan``; the name (the thread's id) makes a retry unable to start two."""
        self._sfn().start_execution(stateMachineArn=self._arn, name=execution_name, input=plan.model_dump_json())

    def stop(self, execution_name: str) -> None:
        """Stop a thread's execution; one that is gone or finished is left alone."""
        sfn = self._sfn()
        try:
            sfn.stop_execution(executionArn=self.execution_arn(execution_name), cause="thread cancelled")
        except sfn.exceptions.ExecutionDoesNotExist:
            pass

    def send_decision(self, token: str, outcome: StepOutcome) -> bool:
        """Resume a task waiting on ``token``; False when it is no longer waiting (timed out)."""
        sfn = self._sfn()
        try:
            sfn.send_task_success(taskToken=token, output=json.dumps(outcome.model_dump()))
        except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist):
            return False
        return True

    def execution_arn(self, execution_name: str) -> str:
        """``arn:aws:states:…:execution:<machine>:<name>`` of an execution of this machine."""
        return f"{self._arn.replace(':stateMachine:', ':execution:', 1)}:{execution_name}"
