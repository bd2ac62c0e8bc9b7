"""EventBridge "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED)
→ the thread becomes failed or cancelled and its open steps are closed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from threadline import observability, wiring
from threadline.logic.reconcile_thread import correlation_of, reconcile_thread

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="threadline")


@observability.traced
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = event.get("detail") or {}
    correlation_id = correlation_of(detail)  # the request that started the execution
    logger.set_correlation_id(correlation_id)
    observability.correlate(correlation_id)
    result = reconcile_thread(detail, steps=wiring.step_store(), statuses=wiring.status_store())
    logger.info("reconciled", extra={"execution": detail.get("name"), **result})
    return result
