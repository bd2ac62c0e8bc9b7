"""AWS clients: one per process, created on first use (never at import time)."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.session import Session, get_session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

# Fail fast inside a Lambda's short timeout instead of waiting out the SDK defaults.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
_LOCK = threading.Lock()  # a botocore session is not thread-safe; the local server is threaded


@lru_cache(maxsize=1)
def _session() -> Session:
    # One session for every client: the second and third clients reuse its loaded
    # endpoint rules and service index (about 70 ms each otherwise). botocore, not
    # boto3: clients need nothing of boto3, and importing it costs ~25 ms of cold start.
    return get_session()


def _client(service: str) -> Any:
    with _LOCK:
        return _session().create_client(service, config=_CONFIG)


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBClient:
    """The DynamoDB client."""
    return _client("dynamodb")  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def stepfunctions() -> SFNClient:
    """The Step Functions client."""
    return _client("stepfunctions")  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def kms() -> KMSClient:
    """The KMS client."""
    return _client("kms")  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def sqs() -> SQSClient:
    """The SQS client (webhook deliveries)."""
    return _client("sqs")  # type: ignore[no-any-return]


def reset() -> None:
    """Forget the clients and their session (tests start each case with fresh ones)."""
    for factory in (dynamodb, stepfunctions, kms, sqs):
        factory.cache_clear()
    _session.cache_clear()
