"""The webhook delivery queue → one signed POST per message (``logic.webhooks.deliver``), the
messages of a batch side by side. A receiver's failure is an attempt logged and retried on the
schedule (a new message, delayed); a message whose processing fails is reported (partial batch
response), retried by the queue, and after a few receives moved to the dead-letter queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from threadline import observability, wiring
from threadline.logic.webhooks import RetrySchedule, deliver, deliver_messages
from threadline.models.webhooks import DeliveryTask

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="threadline")


def deliver_task(task: DeliveryTask) -> None:
    attempt = deliver(
        task,
        store=wiring.webhook_store(),
        events=wiring.event_store(),
        queue=wiring.webhook_queue(),
        sender=wiring.webhook_sender(),
        schedule=RetrySchedule(scale=wiring.webhook_retry_scale()),
    )
    # Ids, status and state only: never the event's body or the endpoint's secret.
    logger.info(
        "webhook attempt" if attempt is not None else "webhook delivery skipped",
        extra={
            "delivery_id": task.delivery_id,
            "endpoint_id": task.endpoint_id,
            "event_id": task.event_id,
            "attempt": task.attempt,
            "http_status": attempt.http_status if attempt else None,
            "state": attempt.state if attempt else None,
        },
    )


def failed(message_id: str, error: Exception) -> None:
    # The type, not the message: a message could quote data.
    logger.error("webhook message failed", extra={"message_id": message_id, "error_type": type(error).__name__})


@observability.traced
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    messages = [(record["messageId"], record["body"]) for record in event.get("Records", [])]
    failures = deliver_messages(messages, deliver_task, failed)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}
