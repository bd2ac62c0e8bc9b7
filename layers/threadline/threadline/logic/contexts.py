"""Store, read and delete context documents; check that a thread's context exists.

Contexts belong to the org: a key restricted to a project reads and writes its
org's contexts (with the scope each operation needs), as threads of every
project of the org work on the same businesses.
"""

from __future__ import annotations

import json
import re
from typing import Any

from threadline.errors import InvalidParameterError, NotFoundError, PayloadTooLargeError
from threadline.models.contexts import MAX_CONTEXT_BYTES, MAX_CONTEXT_DEPTH, Context
from threadline.models.domain import CONTEXT_TYPE_PATTERN, IDENTIFIER_PATTERN, Tenant
from threadline.models.limits import nesting_depth
from threadline.store.contexts import ContextStore
from threadline.timeutil import now_iso


def context_not_found(context_type: str, context_id: str, parameter: str) -> NotFoundError:
    """The 404 of an absent context, worded as Middesk words it ("No business with id biz_123")."""
    return NotFoundError(f"No {context_type[:64]} with id {context_id[:128]}", parameter)


def is_context_path(context_type: str, context_id: str) -> bool:
    """Whether ``(context_type, context_id)`` could name a context at all."""
    return bool(re.fullmatch(CONTEXT_TYPE_PATTERN, context_type) and re.fullmatch(IDENTIFIER_PATTERN, context_id))


def put_context(
    tenant: Tenant, context_type: str, context_id: str, document: dict[str, Any], *, store: ContextStore
) -> tuple[Context, bool]:
    """Create or replace the org's context with ``document``; returns it and whether it was created.

    The path is well formed (the dialect checks ``CONTEXT_TYPE_PATTERN`` and ``IDENTIFIER_PATTERN``)."""
    return store.put(tenant.org_id, context_type, context_id, serialize_document(document), now_iso())


def get_context(tenant: Tenant, context_type: str, context_id: str, *, store: ContextStore) -> Context:
    """The org's context; absent, another org's, or a path that names none → 404."""
    context = store.get(tenant.org_id, context_type, context_id) if is_context_path(context_type, context_id) else None
    if context is None:
        raise context_not_found(context_type, context_id, "context_id")
    return context


def delete_context(tenant: Tenant, context_type: str, context_id: str, *, store: ContextStore) -> Context:
    """Delete the org's context and return it as it was; absent → 404 (so a second delete is 404).

    Threads already created on it are left as they are.
    """
    gone = store.delete(tenant.org_id, context_type, context_id) if is_context_path(context_type, context_id) else None
    if gone is None:
        raise context_not_found(context_type, context_id, "context_id")
    return gone


def require_context(tenant: Tenant, context_type: str, context_id: str, *, parameter: str, store: ContextStore) -> None:
    """Raise the 404 naming ``parameter`` unless the org has this context."""
    if not store.exists(tenant.org_id, context_type, context_id):
        raise context_not_found(context_type, context_id, parameter)


def serialize_document(document: dict[str, Any]) -> str:
    """The document as stored: compact JSON, at most ``MAX_CONTEXT_BYTES`` in UTF-8, nesting at
    most ``MAX_CONTEXT_DEPTH`` levels."""
    if nesting_depth(document) > MAX_CONTEXT_DEPTH:
        raise InvalidParameterError(f"Context document may nest at most {MAX_CONTEXT_DEPTH} levels deep")
    try:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as error:
        # Python's JSON parser accepts NaN, Infinity and 1e400 (an infinite float); JSON has none of them.
        raise InvalidParameterError(
            "Context document numbers must be finite (NaN and Infinity are not JSON)"
        ) from error
    try:
        size = len(text.encode())
    except UnicodeEncodeError as error:  # a lone surrogate ("\ud800") parses, but is no text
        raise InvalidParameterError("Context document must be valid Unicode (it has a lone surrogate)") from error
    if size > MAX_CONTEXT_BYTES:
        raise PayloadTooLargeError(
            f"Context document must be at most {MAX_CONTEXT_BYTES} bytes as compact JSON (it is {size})"
        )
    return text
