"""Execution ends handed to the reconciling function, as EventBridge does on AWS.

moto emits no "Step Functions Execution Status Change" events, so the local
server (and tests) find executions that ended FAILED, TIMED_OUT or ABORTED and
invoke ``ReconcileThreadFunction``'s handler with the event AWS would send.
"""

from __future__ import annotations

import threading
from typing import Any

from threadline_tools.gateway import ENVIRONMENTS, LambdaContext

RECONCILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
RECONCILER = "ReconcileThreadFunction"


def status_change_event(execution: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge event of an execution's end (``describe_execution`` output)."""
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "input": execution.get("input"),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }


def reconcile_ended(sfn: Any, state_machine_arn: str, seen: set[str]) -> int:
    """Reconcile every ended execution not in ``seen`` (which it extends); how many."""
    handled = 0
    for status in RECONCILED_STATUSES:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn, statusFilter=status)
        for page in pages:
            for listed in page["executions"]:
                arn = listed["executionArn"]
                if arn in seen:
                    continue
                execution = sfn.describe_execution(executionArn=arn)
                if execution["status"] not in RECONCILED_STATUSES:
                    continue
                ENVIRONMENTS.invoke(RECONCILER, status_change_event(execution), LambdaContext(RECONCILER))
                seen.add(arn)
                handled += 1
    return handled


class ExecutionWatcher(threading.Thread):
    """Polls for ended executions and reconciles them until stopped."""

    def __init__(self, sfn: Any, state_machine_arn: str, interval: float = 0.5) -> None:
        super().__init__(name="threadline-execution-watcher", daemon=True)
        self._sfn = sfn
        self._arn = state_machine_arn
        self._interval = interval
        self._seen: set[str] = set()
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                reconcile_ended(self._sfn, self._arn, self._seen)
            except Exception as error:  # keep watching; the next poll retries
                print(f"execution watcher: {type(error).__name__}: {error}", flush=True)

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
