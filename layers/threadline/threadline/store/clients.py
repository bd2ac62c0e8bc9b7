"""AWS clients: one per process, created on first use (never at import time)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_stepfunctions import SFNClient

# Fail fast inside a Lambda's short timeout instead of waiting out the SDK defaults.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


def _client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]


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


def reset() -> None:
    """Forget the clients (tests start each case with fresh ones)."""
    for factory in (dynamodb, stepfunctions, kms):
        factory.cache_clear()
