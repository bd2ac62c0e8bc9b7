"""Timestamps in the one wire format: RFC 3339 UTC with milliseconds; and random backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime

# Draws from os.urandom and keeps no state: execution environments restored from one SnapStart
# snapshot draw different waits (the random module's shared generator would draw the same).
_WAITS = random.SystemRandom()


def backoff(upper: float) -> float:
    """A random wait of up to ``upper`` seconds (full jitter)."""
    return _WAITS.uniform(0, upper)


def format_time(moment: datetime) -> str:
    """``2024-01-15T09:30:00.000Z`` for an aware datetime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def now_iso() -> str:
    """The current time in the wire format."""
    return format_time(now())


def parse_time(stamp: str) -> datetime:
    """Any ISO 8601 time (``...Z`` included) as an aware datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def normalize(stamp: str) -> str:
    """Any ISO 8601 time (e.g. a Step Functions ``$$.State.EnteredTime``) in the wire format."""
    return format_time(parse_time(stamp))
