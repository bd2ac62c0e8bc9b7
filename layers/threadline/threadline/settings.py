"""Environment settings, read once and lazily (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    """What a function needs to know about its deployment."""

    threads_table: str
    keys_table: str
    state_machine_arn: str
    kms_key_id: str
    retention_days: int
    cursor_secret: bytes
    # The API Gateway API key value that identifies keys without a usage plan of their own.
    shared_usage_key: str
    idempotency_table: str
    # STANDARD or EXPRESS: an Express workflow cannot wait for a human or be stopped.
    workflow_type: str = "STANDARD"


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Parse the environment the first time it is needed."""
    return Settings(
        threads_table=os.environ.get("THREADS_TABLE", ""),
        keys_table=os.environ.get("KEYS_TABLE", ""),
        state_machine_arn=os.environ.get("STATE_MACHINE_ARN", ""),
        kms_key_id=os.environ.get("KMS_KEY_ID", ""),
        retention_days=int(os.environ.get("RETENTION_DAYS", "30")),
        cursor_secret=os.environ.get("CURSOR_SECRET", "").encode(),
        shared_usage_key=os.environ.get("SHARED_USAGE_KEY", ""),
        idempotency_table=os.environ.get("IDEMPOTENCY_TABLE", ""),
        workflow_type=os.environ.get("WORKFLOW_TYPE", "STANDARD"),
    )
