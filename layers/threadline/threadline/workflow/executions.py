"""Starting and stopping a thread's workflow execution on Step Functions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from threadline import faults, observability
from threadline.models.workflow import ExecutionInput, StepOutcome

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger(service="threadline")


class WorkflowRunner:
    """Runs threads on the one state machine."""

    def __init__(self, client: Callable[[], SFNClient], state_machine_arn: str) -> None:
        # A factory, not a client: a delete of a finished thread never needs Step Functions.
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, execution_name: str, plan: ExecutionInput) -> None:
        """Start an execution of ``plan``; the name (the thread's id) makes a retry unable to start two.
        Its run carries the current request's correlation id."""
        run = plan.run.model_copy(update={"correlation_id": observability.correlation_id()})
        execution_input = plan.model_copy(update={"run": run}).model_dump_json()
        self._sfn().start_execution(stateMachineArn=self._arn, name=execution_name, input=execution_input)

    def was_started(self, execution_name: str) -> bool:
        """Whether an execution of this name exists: a start that timed out may have started it."""
        sfn = self._sfn()
        try:
            sfn.describe_execution(executionArn=self.execution_arn(execution_name))
        except sfn.exceptions.ExecutionDoesNotExist:
            return False
        return True

    def stop(self, execution_name: str) -> None:
        """Stop a thread's execution; one that is gone or finished is left alone."""
        sfn = self._sfn()
        try:
            sfn.stop_execution(executionArn=self.execution_arn(execution_name), cause="thread cancelled")
        except sfn.exceptions.ExecutionDoesNotExist:
            pass

    def try_stop(self, execution_name: str) -> bool:
        """:meth:`stop`, for a thread that is final already: a failure is logged and answered
        False, not raised. An execution left running ends by itself, as its next write refuses
        a thread that is no longer active (a waiting one at its step's timeout)."""
        try:
            self.stop(execution_name)
        except Exception as error:
            logger.warning(
                "could not stop the execution", extra={"execution": execution_name, **faults.describe(error)}
            )
            return False
        return True

    def send_decision(self, token: str, outcome: StepOutcome) -> bool:
        """Resume a task waiting on ``token``; False when it is no longer waiting (timed out)."""
        sfn = self._sfn()
        try:
            sfn.send_task_success(taskToken=token, output=json.dumps(outcome.model_dump()))
        except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist):
            return False
        return True

    def send_skip(self, token: str) -> None:
        """Answer a wait task at once: its step's condition does not hold, so no one is asked."""
        self._sfn().send_task_success(taskToken=token, output=json.dumps({"skipped": True}))

    def still_waiting(self, token: str) -> bool:
        """Whether the task waiting on ``token`` waits still: a decision whose sending timed out
        may have arrived (a heartbeat to a task that is done is refused)."""
        sfn = self._sfn()
        try:
            sfn.send_task_heartbeat(taskToken=token)
        except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist):
            return False
        return True

    def execution_arn(self, execution_name: str) -> str:
        """``arn:aws:states:…:execution:<machine>:<name>`` of an execution of this machine."""
        return f"{self._arn.replace(':stateMachine:', ':execution:', 1)}:{execution_name}"
