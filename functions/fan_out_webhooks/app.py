"""DynamoDB stream of the event log → one queued webhook delivery per (new event, endpoint of its
org that receives its type). It never calls a receiver: delivering is DeliverWebhooksFunction's,
one message per endpoint, so no endpoint waits on another. A record that fails is reported
(partial batch response) and Lambda retries from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from threadline import observability, wiring
from threadline.logic.webhooks import fan_out

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="threadline")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
# The endpoints of each org, read once per invocation (a batch of events is a moment of time).
endpoints: dict[str, Any] = {}


def fan_out_record(record: DynamoDBRecord) -> None:
    queued = fan_out(record.raw_event, store=wiring.webhook_store(), queue=wiring.webhook_queue(), known=endpoints)
    logger.debug(
        "fanned out", extra={"sequence": record.dynamodb.sequence_number if record.dynamodb else None, "queued": queued}
    )


@observability.traced
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    endpoints.clear()
    return dict(
        process_partial_response(event=event, record_handler=fan_out_record, processor=processor, context=context)
    )
