"""Starting and stopping a thread's workflow execution on Step Functions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from threadline.models.domain import Thread
from threadline.store import keys

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class WorkflowRunner:
    """Runs threads on the one state machine."""

    def __init__(self, client: Callable[[], SFNClient], state_machine_arn: str) -> None:
        # A factory, not a client: a delete of a finished thread never needs Step Functions.
        self._sfn = client
        self._arn = state_machine_arn

    def start(self, thread: Thread) -> None:
        """Start the thread's execution, named after the thread so a retry cannot start two."""
        self._sfn().start_execution(
            stateMachineArn=self._arn,
            name=thread.id,
            input=json.dumps(execution_input(thread)),
        )

    def stop(self, execution_name: str) -> None:
        """Stop a thread's execution; one that is gone or finished is left alone."""
        sfn = self._sfn()
        try:
            sfn.stop_execution(executionArn=self.execution_arn(execution_name), cause="thread cancelled")
        except sfn.exceptions.ExecutionDoesNotExist:
            pass

    def execution_arn(self, execution_name: str) -> str:
        """``arn:aws:states:…:execution:<machine>:<name>`` of an execution of this machine."""
        return f"{self._arn.replace(':stateMachine:', ':execution:', 1)}:{execution_name}"


def execution_input(thread: Thread) -> dict[str, object]:
    """What the state machine needs: the thread, its key and its status partitions.

    Keys are computed here (``store.keys``) so the ASL never builds one.
    """
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
            status: keys.dimension_partition("status", thread.org_id, status) for status in ("completed", "failed")
        },
    }
