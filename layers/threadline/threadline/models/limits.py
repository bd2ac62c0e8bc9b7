"""Size limits of the contract (SPEC §6), checked where input is parsed."""

from __future__ import annotations

import json
from typing import Any

MAX_BODY_BYTES = 1024 * 1024
MAX_METADATA_KEYS = 32
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_BYTES = 8 * 1024
MAX_USER_DATA_BYTES = 256 * 1024
MAX_PAGE_SIZE = 100


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """Enforce key count, key length and total size; raise ``ValueError`` naming the limit."""
    if metadata is None:
        return None
    if len(metadata) > MAX_METADATA_KEYS:
        raise ValueError(f"metadata may have at most {MAX_METADATA_KEYS} keys")
    for key in metadata:
        if not 1 <= len(key) <= MAX_METADATA_KEY_LENGTH:
            raise ValueError(f"metadata keys must be 1-{MAX_METADATA_KEY_LENGTH} characters")
    if len(json.dumps(metadata, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return metadata


def check_user_data(user_data: str | None) -> str | None:
    """Enforce the ``user_data`` size; raise ``ValueError`` naming the limit."""
    if user_data is not None and len(user_data.encode()) > MAX_USER_DATA_BYTES:
        raise ValueError(f"user_data must be at most {MAX_USER_DATA_BYTES} bytes")
    return user_data
