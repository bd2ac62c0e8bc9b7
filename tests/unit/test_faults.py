"""threadline.faults: which failed AWS calls a retry may cure (503 + Retry-After), and which may
have been carried out although they failed. (tests/integration/test_faults.py runs them
through the routes against moto.)"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from threadline import faults
from threadline.errors import ServiceUnavailableError, WorkflowStartError


def client_error(code: str, status: int = 400, operation: str = "PutItem", **extra: Any) -> ClientError:
    """The exception botocore raises for an error reply of AWS (its parsed shape)."""
    response: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}
    return ClientError(response, operation)


def cancelled(*reasons: str) -> ClientError:
    return client_error(
        "TransactionCanceledException",
        operation="TransactWriteItems",
        CancellationReasons=[{"Code": reason} for reason in reasons],
    )


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        (client_error("ProvisionedThroughputExceededException"), 2),
        (client_error("RequestLimitExceeded"), 2),
        (client_error("ThrottlingException", operation="StartExecution"), 2),
        (client_error("ExecutionLimitExceeded", operation="StartExecution"), 2),
        (client_error("LimitExceededException", operation="Decrypt"), 2),
        (client_error("InternalServerError", 500), 5),
        (client_error("KMSInternalException", 500, "GenerateDataKey"), 5),
        (client_error("KeyUnavailableException", 500, "Decrypt"), 5),
        (client_error("DependencyTimeoutException", 503, "Decrypt"), 5),
        (client_error("SomethingNew", 503), 5),  # any 5xx of a service
        (cancelled("None", "TransactionConflict"), 1),
        (client_error("TransactionConflictException", operation="UpdateItem"), 1),  # a plain write met a transaction
        (cancelled("ThrottlingError", "None"), 2),
        (cancelled("TransactionConflict", "ProvisionedThroughputExceeded"), 2),  # the longer wait
        (ReadTimeoutError(endpoint_url="https://dynamodb"), 5),
        (ConnectTimeoutError(endpoint_url="https://dynamodb"), 5),
        (EndpointConnectionError(endpoint_url="https://dynamodb"), 5),
        (ConnectionClosedError(endpoint_url="https://dynamodb"), 5),
        (ServiceUnavailableError("busy; retry after 3 seconds", retry_after=3), 3),
    ],
)
def test_faults_a_retry_may_cure_are_503s_with_a_wait(error: BaseException, retry_after: int) -> None:
    fault = faults.unavailable(error)
    assert fault is not None
    assert (fault.code, fault.retry_after, faults.retry_after(error)) == (
        "service_unavailable",
        retry_after,
        retry_after,
    )
    assert f"retry after {retry_after} second" in fault.message


@pytest.mark.parametrize(
    "error",
    [
        client_error("ConditionalCheckFailedException"),
        client_error("ValidationException"),
        client_error("AccessDeniedException"),
        client_error("ResourceNotFoundException"),
        client_error("InvalidCiphertextException", operation="Decrypt"),
        cancelled("ConditionalCheckFailed", "TransactionConflict"),  # a refused condition decides
        cancelled("ValidationError"),
        ValueError("not AWS"),
        WorkflowStartError("could not start"),
    ],
)
def test_faults_a_retry_cannot_cure_are_left_alone(error: BaseException) -> None:
    assert faults.unavailable(error) is None
    assert faults.retry_after(error) is None


@pytest.mark.parametrize(
    ("error", "carried_out"),
    [
        (ReadTimeoutError(endpoint_url="https://states"), True),  # sent; the answer was lost
        (ConnectionClosedError(endpoint_url="https://states"), True),
        (client_error("InternalServerError", 500, "StartExecution"), True),
        (ConnectTimeoutError(endpoint_url="https://states"), False),  # never sent
        (EndpointConnectionError(endpoint_url="https://states"), False),
        (client_error("ThrottlingException", 400, "StartExecution"), False),  # refused
        (RuntimeError("before the call"), False),
    ],
)
def test_what_may_have_been_carried_out_although_it_failed(error: BaseException, carried_out: bool) -> None:
    assert faults.may_have_taken_effect(error) is carried_out


def test_the_log_details_name_the_call_never_its_message() -> None:
    error = client_error("ThrottlingException", operation="Query")
    assert faults.describe(error) == {
        "error_type": "ClientError",
        "error_code": "ThrottlingException",
        "operation": "Query",
    }
    assert faults.describe(ReadTimeoutError(endpoint_url="https://x")) == {"error_type": "ReadTimeoutError"}


def test_a_transaction_that_lost_a_race_is_read_again_not_failed() -> None:
    from threadline.store.items import lost_race

    # A failed condition or a conflicting transaction: the caller reads again and retries
    assert lost_race(cancelled("ConditionalCheckFailed", "None"))
    assert lost_race(cancelled("None", "TransactionConflict"))
    # Throttling within it is not a lost race: it is a 503 to retry later
    assert not lost_race(cancelled("TransactionConflict", "ThrottlingError"))
    assert not lost_race(client_error("ValidationException"))
