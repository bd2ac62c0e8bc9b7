"""The agent function the state machine invokes: run a step's agent, check a
step's condition, or record that an interrupt step waits for a human."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from threadline.logic.run_step import check_condition, run_step, wait_for_human
from threadline.store.factory import context_store, step_store

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="threadline")


def _load_context(org_id: str, context_type: str, context_id: str) -> dict[str, Any] | None:
    context = context_store().get(org_id, context_type, context_id)
    return context.document if context is not None else None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action = event["action"]
    logger.append_keys(thread_id=event["thread"]["id"], step=event["step"]["name"], action=action)
    if action == "run":
        return run_step(event, steps=step_store(), load_context=_load_context)
    if action == "check_condition":
        return check_condition(event, steps=step_store())
    if action == "wait":
        return wait_for_human(event, steps=step_store())
    raise ValueError(f"unknown action {action!r}")
