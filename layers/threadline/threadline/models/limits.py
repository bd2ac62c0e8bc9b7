"""Size limits of the contract (SPEC §6), checked where input is parsed."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from threadline.models.metadata import check_indexable

MAX_BODY_BYTES = 1024 * 1024
# Levels of objects and arrays a request body may nest: more than any field allows (metadata 32,
# context documents 64), and refused before a parser deeper in the stack recurses past Python's limit.
MAX_BODY_DEPTH = 100
MAX_METADATA_KEYS = 32
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_BYTES = 8 * 1024
MAX_USER_DATA_BYTES = 256 * 1024
# A run's ``input`` (any JSON object, stored as JSON text on the run item, given to its agents).
MAX_RUN_INPUT_BYTES = 16 * 1024
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
    _check_storable(metadata, depth=1)  # first: it stops at the depth limit, where json.dumps could recurse too far
    if len(json.dumps(metadata, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON")
    check_indexable(metadata)
    return metadata


def _check_storable(value: Any, depth: int) -> None:
    if isinstance(value, (dict, list)):
        if depth > MAX_NESTING_DEPTH:
            raise ValueError(f"metadata may nest at most {MAX_NESTING_DEPTH} levels deep")
        if isinstance(value, dict) and "" in value:  # DynamoDB refuses an empty attribute name, at any depth
            raise ValueError("metadata keys may not be empty, at any level")
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


def nesting_depth(value: Any) -> int:
    """Levels of objects and arrays in ``value``, 0 for a scalar (walked without recursion: any depth is safe)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def check_run_input(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Enforce a run input's size and nesting (stored as JSON text: no DynamoDB type limits);
    raise ``ValueError`` naming the limit."""
    if value is None:
        return None
    if nesting_depth(value) > MAX_NESTING_DEPTH:
        raise ValueError(f"input may nest at most {MAX_NESTING_DEPTH} levels deep")
    try:
        size = len(json.dumps(value, separators=(",", ":"), allow_nan=False).encode())
    except ValueError as error:  # NaN or an infinity, which JSON cannot carry
        raise ValueError("input numbers must be finite") from error
    if size > MAX_RUN_INPUT_BYTES:
        raise ValueError(f"input must be at most {MAX_RUN_INPUT_BYTES} bytes as JSON")
    return value


def check_user_data(user_data: str | None) -> str | None:
    """Enforce the ``user_data`` size; raise ``ValueError`` naming the limit."""
    if user_data is not None and len(user_data.encode()) > MAX_USER_DATA_BYTES:
        raise ValueError(f"user_data must be at most {MAX_USER_DATA_BYTES} bytes")
    return user_data
