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
    events_table: str = ""
    event_retention_days: int = 30
    webhooks_table: str = ""
    webhook_queue_url: str = ""
    # The local server's --allow-loopback-webhooks: http://127.0.0.1 / localhost receivers allowed.
    webhooks_allow_loopback: bool = False
    # Scales the webhook retry delays (1 in AWS; the local server compresses a day into minutes).
    webhook_retry_scale: float = 1.0
    # How long a run's stream holds a request for new events (GET /v1/runs/{id}/stream).
    stream_window_seconds: float = 20.0


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
        events_table=os.environ.get("EVENTS_TABLE", ""),
        event_retention_days=int(os.environ.get("EVENT_RETENTION_DAYS", "30")),
        webhooks_table=os.environ.get("WEBHOOKS_TABLE", ""),
        webhook_queue_url=os.environ.get("WEBHOOK_QUEUE_URL", ""),
        webhooks_allow_loopback=os.environ.get("THREADLINE_WEBHOOKS_ALLOW_LOOPBACK", "") == "1",
        webhook_retry_scale=float(os.environ.get("THREADLINE_WEBHOOK_RETRY_SCALE", "1")),
        stream_window_seconds=float(os.environ.get("STREAM_WINDOW_SECONDS", "20")),
    )
