"""Size limits of the contract (SPEC §6), checked where input is parsed."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from threadline.models.metadata import check_indexable

MAX_BODY_BYTES = 1024 * 1024
MAX_METADATA_KEYS = 32
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_BYTES = 8 * 1024
MAX_USER_DATA_BYTES = 256 * 1024
MAX_PAGE_SIZE = 100
# What DynamoDB can store (a value beyond these is a 400 here, not a 500 at write time).
MAX_NESTING_DEPTH = 32
MAX_NUMBER_DIGITS = 38
MIN_NUMBER_EXPONENT, MAX_NUMBER_EXPONENT = -130, 125


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """Enforce key count, key length, total size and what DynamoDB can store (nesting depth,
    number range and precision); raise ``ValueError`` naming the limit."""
    if metadata is None:
        return None
    if len(metadata) > MAX_METADATA_KEYS:
        raise ValueError(f"metadata may have at most {MAX_METADATA_KEYS} keys")
    for key in metadata:
        if not 1 <= len(key) <= MAX_METADATA_KEY_LENGTH:
            raise ValueError(f"metadata keys must be 1-{MAX_METADATA_KEY_LENGTH} characters")
    if len(json.dumps(metadata, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON")
    _check_storable(metadata, depth=1)
    check_indexable(metadata)
    return metadata


def _check_storable(value: Any, depth: int) -> None:
    if isinstance(value, (dict, list)):
        if depth > MAX_NESTING_DEPTH:
            raise ValueError(f"metadata may nest at most {MAX_NESTING_DEPTH} levels deep")
        for child in value.values() if isinstance(value, dict) else value:
            _check_storable(child, depth + 1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if number.is_zero():
            return
        if not number.is_finite() or not (
            len(number.as_tuple().digits) <= MAX_NUMBER_DIGITS
            and MIN_NUMBER_EXPONENT <= number.adjusted() <= MAX_NUMBER_EXPONENT
        ):
            raise ValueError(
                f"metadata numbers must be finite, with at most {MAX_NUMBER_DIGITS} significant digits,"
                f" between 1E{MIN_NUMBER_EXPONENT} and 1E{MAX_NUMBER_EXPONENT + 1} in magnitude"
            )


def check_user_data(user_data: str | None) -> str | None:
    """Enforce the ``user_data`` size; raise ``ValueError`` naming the limit."""
    if user_data is not None and len(user_data.encode()) > MAX_USER_DATA_BYTES:
        raise ValueError(f"user_data must be at most {MAX_USER_DATA_BYTES} bytes")
    return user_data
