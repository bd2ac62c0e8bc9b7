"""DynamoDB stream of the threads table → the events each stored change is, in the event log
(``logic.record_events``). Records are taken in order and the batch stops at the first that
fails, which is reported (partial batch response) so Lambda retries from it: a reader of a run
never sees a later event before an earlier one, and recording a change again changes nothing."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from threadline import observability, wiring
from threadline.api.native.events import wire_object
from threadline.logic.record_events import ThreadReader, record_change

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="threadline")


@observability.traced
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    events, threads = wiring.event_store(), ThreadReader(wiring.status_store(), wiring.run_store())
    for record in event.get("Records", []):
        sequence = record.get("dynamodb", {}).get("SequenceNumber")
        try:
            recorded = record_change(record, events, threads, wire_object)
        except Exception as error:  # type and frames, not the message: it may quote the change's data
            frames = traceback.format_tb(error.__traceback__)
            details = {"sequence": sequence, "error_type": type(error).__name__, "frames": frames}
            logger.error("recording failed; retried from this record", extra=details)
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        logger.debug("recorded", extra={"sequence": sequence, "events": recorded})
    return {"batchItemFailures": []}
