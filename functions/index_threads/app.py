"""DynamoDB stream of the threads table → each thread header's change applied to its
metadata index items and counters (``store.thread_index``), and mirrored onto its runs'
listing entries (``store.runs``), which are indexed the same way. A record that fails is reported
(partial batch response) so Lambda retries from it; applying a change twice changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from threadline import observability, wiring
from threadline.logic.index_thread import index_change

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="threadline")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def index_record(record: DynamoDBRecord) -> None:
    applied = index_change(record.raw_event, wiring.thread_indexer(), wiring.run_store())
    logger.debug(
        "indexed", extra={"sequence": record.dynamodb.sequence_number if record.dynamodb else None, "applied": applied}
    )


@observability.traced
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=index_record, processor=processor, context=context)
    )
