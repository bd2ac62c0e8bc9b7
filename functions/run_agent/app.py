"""The agent function the state machine invokes: run and record a step of a run, or record that
an interrupt step waits for a human. Its event is an ``AgentTask``, parsed once here; the agents
come from their own layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from threadline import observability, wiring
from threadline.logic.run_step import check_condition, run_step, wait_for_human
from threadline.models.workflow import AgentTask

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="threadline")


def _load_context(org_id: str, context_type: str, context_id: str) -> dict[str, Any] | None:
    context = wiring.context_store().get(org_id, context_type, context_id)
    return context.document if context is not None else None


@observability.traced
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = AgentTask.model_validate(event)
    correlation_id = task.run.correlation_id if task.run else None  # the request that started the run
    logger.set_correlation_id(correlation_id)
    observability.correlate(correlation_id)
    logger.append_keys(thread_id=task.thread.id, run_id=task.run.id if task.run else None, step=task.step.name)
    logger.append_keys(action=task.action)
    # One line per task, with its thread, run, step, action and correlation id: done, or failed
    # (the type, never the message: an agent's error may quote its context).
    try:
        result = _perform(task)
    except Exception as error:
        logger.error("task failed", extra={"error_type": type(error).__name__})
        raise
    logger.info("task done")
    return result


def _perform(task: AgentTask) -> dict[str, Any]:
    if task.action == "run":
        return run_step(task, steps=wiring.step_store(), load_context=_load_context)
    if task.action == "check_condition":  # an execution started before runs
        return {"run": check_condition(task, steps=wiring.step_store())}
    wait_for_human(task, steps=wiring.step_store(), send_skip=wiring.workflow_runner().send_skip)
    return {"status": "waiting"}
