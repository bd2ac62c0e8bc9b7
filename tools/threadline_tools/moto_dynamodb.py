"""Two gaps of moto's DynamoDB that matter to Threadline, closed while the emulation runs.

* **Threads.** moto's DynamoDB is not thread-safe (its server answers requests on threads of
  its own: a workflow's write, a request's transaction and a list's query run at once); DynamoDB
  is. One lock makes moto so too, held for each whole request (``DynamoHandler.call_action``:
  the read of the old item that ``ReturnValues`` answers with, the condition check, the write
  and the reply's serialisation, as one step) and around each backend call made directly. So a
  conditional write is atomic (no write lands between its check and its write), ``ALL_OLD``
  returns exactly the item it replaced, and a query never iterates a table being written.
* **Transactions.** moto backs up a whole table per item of a ``TransactWriteItems`` (a deep
  copy: O(table) each, so seeding 10,000 threads would take hours) and applies items one by
  one, so a cancelled transaction leaves stream records of writes it rolled back. DynamoDB
  checks every condition first and writes all or nothing. ``transact_write_items`` below does
  that: conditions on the items as they were, then the writes (backing up only the items
  touched, for an invalid update expression, which is our bug, never a client's).

Both hold for moto in-process (``mock_aws``) and in server mode (the local server's
``ThreadedMotoServer`` runs in the local server's process, so the patched classes serve it).
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

_LOCK = threading.RLock()
_CALLS = (
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "transact_write_items",
    "transact_get_items",
    "batch_write_item",
    "batch_get_item",
)


def serialized() -> threading.RLock:
    """The lock each DynamoDB request holds, for a change made to the emulation's tables directly."""
    return _LOCK


def _serialized(original: Any) -> Any:
    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(*args, **kwargs)

    return call


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """``TransactWriteItems`` as DynamoDB runs it: every condition, then every write, or none."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    planned: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    errors: list[tuple[Any, Any, Any]] = []
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        kind, op = next(iter(entry.items()))
        table = self.get_table(op["TableName"])
        if kind == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        identity = (op["TableName"], str(sorted(key.items())))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        current = self.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        if condition is not None and not get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            failed = ConditionalCheckFailed()
            old = (
                current.to_json()["Attributes"]
                if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                else None
            )
            errors.append(("ConditionalCheckFailed", str(failed.message), old))
        else:
            errors.append((None, None, None))
        planned.append((kind, op, key))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    backups = [(op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))) for _, op, key in planned]
    try:
        for kind, op, key in planned:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if kind == "Put":
                self.put_item(
                    op["TableName"], op["Item"], expression_attribute_names=names, expression_attribute_values=values
                )
            elif kind == "Delete":
                self.delete_item(
                    op["TableName"], key, expression_attribute_names=names, expression_attribute_values=values
                )
            elif kind == "Update":
                self.update_item(
                    op["TableName"],
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
    except Exception:
        for table_name, key, item in backups:  # restore, without stream records of the restore
            _restore(self.get_table(table_name), key, item)
        raise


def _restore(table: Any, key: dict[str, Any], item: Any) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr])
    if table.range_key_attr is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
        return
    range_value = DynamoType(key[table.range_key_attr])
    if item is None:
        table.items[hash_value].pop(range_value, None)
    else:
        table.items[hash_value][range_value] = item


@contextmanager
def patched_dynamodb() -> Iterator[None]:
    """moto's DynamoDB made thread-safe and transactional while active."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(DynamoDBBackend, "transact_write_items", transact_write_items))
        for name in _CALLS:
            stack.enter_context(mock.patch.object(DynamoDBBackend, name, _serialized(getattr(DynamoDBBackend, name))))
        stack.enter_context(mock.patch.object(DynamoHandler, "call_action", _serialized(DynamoHandler.call_action)))
        yield
