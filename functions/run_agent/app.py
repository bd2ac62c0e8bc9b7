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
    if task.action == "run":
        result = run_step(task, steps=wiring.step_store(), load_context=_load_context)
    elif task.action == "check_condition":  # an execution started before runs
        result = {"run": check_condition(task, steps=wiring.step_store())}
    else:
        wait_for_human(task, steps=wiring.step_store(), send_skip=wiring.workflow_runner().send_skip)
        result = {"status": "waiting"}
    logger.info("task done")  # one line per task: its thread, run, step and action, with the correlation id
    return result
