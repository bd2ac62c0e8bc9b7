"""Which failures of AWS calls a retry may cure, in one place.

A failure reaches this module after botocore has already retried it (standard mode, 3
retries after the first attempt: ``threadline.clients``). What is left is answered as ``ServiceUnavailableError``
(HTTP 503 with ``Retry-After``, ``threadline.api.errors``) when the same request may succeed
a moment later: throttling, a transaction cancelled by a concurrent one, a service error or
an unavailable KMS key, a connection that failed or timed out. Anything else (a refused
condition, a missing permission, a validation error) is not retried and stays what it is.
The codes are AWS's own (``error.response["Error"]["Code"]``), never message text.
"""

from __future__ import annotations

from threadline.errors import ServiceUnavailableError

# Seconds a caller should wait before retrying, by kind of fault.
RETRY_AFTER_CONFLICT = 1
RETRY_AFTER_THROTTLED = 2
RETRY_AFTER_UNAVAILABLE = 5

# The request rate of a table, partition, account or key was exceeded.
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",  # DynamoDB
        "RequestLimitExceeded",  # DynamoDB: the account's on-demand throughput
        "ThrottlingException",  # DynamoDB, Step Functions, KMS
        "Throttling",
        "TooManyRequestsException",
        "LimitExceededException",  # KMS: the request quota of the key or account
        "ExecutionLimitExceeded",  # Step Functions: the account's open executions
    }
)
# The service failed, or depends on something that did (KMS's key store, its HSMs).
UNAVAILABLE_CODES = frozenset(
    {
        "InternalServerError",  # DynamoDB
        "InternalServerErrorException",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionInProgressException",  # DynamoDB: the same ClientRequestToken is still running
        "KMSInternalException",
        "KeyUnavailableException",
        "DependencyTimeoutException",  # KMS
    }
)
# Why DynamoDB cancelled one item of a transaction (TransactionCanceledException's reasons).
_CANCELLATION_RETRY_AFTER = {
    "TransactionConflict": RETRY_AFTER_CONFLICT,  # another transaction held the item
    "ThrottlingError": RETRY_AFTER_THROTTLED,
    "ProvisionedThroughputExceeded": RETRY_AFTER_THROTTLED,
}

_THROTTLED = "The service is busy (a request to AWS was throttled); retry after {wait}"
_CONFLICT = "The resource was being changed by another request at the same moment; retry after {wait}"
_UNAVAILABLE = "A service this request depends on is unavailable; retry after {wait}"
_TIMEOUT = "A service this request depends on did not answer in time; retry after {wait}"


def unavailable(error: BaseException) -> ServiceUnavailableError | None:
    """The 503 to answer for ``error`` when a retry may cure it; None when it may not."""
    # botocore is imported here, on the failure path only: a function that never fails never pays.
    from botocore.exceptions import ClientError, ConnectTimeoutError, HTTPClientError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as EndpointUnreachableError

    if isinstance(error, ServiceUnavailableError):
        return error
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError):
        return _error(_TIMEOUT, RETRY_AFTER_UNAVAILABLE)
    if isinstance(error, HTTPClientError | EndpointUnreachableError):  # refused, reset mid-request
        return _error(_UNAVAILABLE, RETRY_AFTER_UNAVAILABLE)
    if not isinstance(error, ClientError):
        return None
    code = error.response.get("Error", {}).get("Code", "")
    if code == "TransactionCanceledException":
        reasons = {reason.get("Code", "") for reason in error.response.get("CancellationReasons", [])}
        if "ConditionalCheckFailed" in reasons:
            return None  # a refused condition: the caller's code decides what it means
        waits = [_CANCELLATION_RETRY_AFTER[reason] for reason in reasons if reason in _CANCELLATION_RETRY_AFTER]
        if not waits:
            return None
        seconds = max(waits)
        return _error(_CONFLICT if seconds == RETRY_AFTER_CONFLICT else _THROTTLED, seconds)
    if code == "TransactionConflictException":  # a write met an item a transaction was changing
        return _error(_CONFLICT, RETRY_AFTER_CONFLICT)
    if code in THROTTLING_CODES:
        return _error(_THROTTLED, RETRY_AFTER_THROTTLED)
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in UNAVAILABLE_CODES or status in (500, 502, 503, 504):
        return _error(_UNAVAILABLE, RETRY_AFTER_UNAVAILABLE)
    return None


def throttled(error: BaseException) -> bool:
    """Whether ``error`` is an AWS call refused for the rate of requests (or a transaction one of
    whose items was)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return False
    code = response.get("Error", {}).get("Code", "")
    if code == "TransactionCanceledException":
        reasons = {reason.get("Code", "") for reason in response.get("CancellationReasons", [])}
        return any(_CANCELLATION_RETRY_AFTER.get(reason) == RETRY_AFTER_THROTTLED for reason in reasons)
    return code in THROTTLING_CODES


def may_have_taken_effect(error: BaseException) -> bool:
    """Whether the AWS call that raised ``error`` may have been carried out all the same: the
    connection broke or timed out after the request was sent, or the service failed while
    carrying it out. A throttled or refused call, or one that never connected, did nothing."""
    from botocore.exceptions import ClientError, HTTPClientError

    if isinstance(error, HTTPClientError):  # read timeout, connection closed mid-request
        return True
    if isinstance(error, ClientError):
        return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) >= 500
    return False


def retry_after(error: BaseException) -> int | None:
    """Seconds after which the request that failed with ``error`` may succeed; None: never by retrying."""
    fault = unavailable(error)
    return fault.retry_after if fault is not None else None


def describe(error: BaseException) -> dict[str, str]:
    """What operators need of a failed AWS call, for the log: its type, AWS's code and the
    operation. Never the message, which may quote request data."""
    details = {"error_type": type(error).__name__}
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details["error_code"] = str(response.get("Error", {}).get("Code", ""))
    operation = getattr(error, "operation_name", None)
    if operation:
        details["operation"] = str(operation)
    return details


def _error(template: str, seconds: int) -> ServiceUnavailableError:
    wait = "1 second" if seconds == 1 else f"{seconds} seconds"
    return ServiceUnavailableError(template.format(wait=wait), retry_after=seconds)
