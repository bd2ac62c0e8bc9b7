"""An SQS queue → a function of the template, on the emulation, as Lambda's SQS event source
mapping does it in AWS (moto runs no mappings).

``QueuePump`` receives the messages that are visible now (moto honours ``DelaySeconds``, the
visibility timeout and the queue's ``RedrivePolicy``), calls the function's own handler with
Lambda's SQS event shape (``Records`` with ``messageId``, ``receiptHandle``, ``body``,
``attributes``, ``eventSourceARN``) in batches of the template's ``BatchSize``, deletes the
messages that succeeded and leaves those the function reports in ``batchItemFailures`` (or all
of a batch whose invocation raised) to come back after the visibility timeout, and, after the
queue's ``maxReceiveCount`` receives, to move to its dead-letter queue. The local server drains a
pump in a background thread (``streams.StreamPoller``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3

from threadline_tools.gateway import ENVIRONMENTS, LambdaContext
from threadline_tools.template import resources

logger = logging.getLogger(__name__)

FUNCTION = "DeliverWebhooksFunction"
_REGION = "us-east-1"


def _mapping(function: str) -> dict[str, Any]:
    events = resources("AWS::Serverless::Function")[function]["Properties"]["Events"]
    return next(e["Properties"] for e in events.values() if e["Type"] == "SQS")


class QueuePump:
    """Delivers a queue's visible messages to one function of the template (the webhook
    deliverer by default); ``drain()`` returns how many messages it handed over."""

    def __init__(self, queue_url: str, function: str = FUNCTION, **client_args: Any) -> None:
        self._function = function
        self._batch = min(int(_mapping(function).get("BatchSize", 10)), 10)  # (SQS receives at most 10)
        self._sqs = boto3.client("sqs", **client_args)
        self._url = queue_url
        self._arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        ENVIRONMENTS.prepare(function)  # a handler that fails to import fails here
        self._lock = threading.Lock()

    def drain(self, rounds: int = 100) -> int:
        """Hand over the messages visible now, batch after batch, until none is (or ``rounds``
        batches went by); one caller at a time, like one poller."""
        delivered = 0
        with self._lock:
            for _ in range(rounds):
                received: list[Any] = self._sqs.receive_message(
                    QueueUrl=self._url,
                    MaxNumberOfMessages=self._batch,
                    WaitTimeSeconds=0,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not received:
                    break
                delivered += len(received)
                self._deliver(received)
        return delivered

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self._record(message) for message in messages]}
        try:
            reply = ENVIRONMENTS.invoke(self._function, event, LambdaContext(self._function)) or {}
            failed = {f["itemIdentifier"] for f in reply.get("batchItemFailures", [])}
        except Exception:  # the whole batch comes back, as when an invocation fails on Lambda
            logger.exception("%s failed on a batch of %d messages", self._function, len(messages))
            return
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries: list[Any] = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[start : start + 10])
            ]
            self._sqs.delete_message_batch(QueueUrl=self._url, Entries=entries)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": _REGION,
        }
