"""Context documents: the subjects threads work on (a business, a watchlist, ...).

A context is any JSON object an org stores under ``(context_type, context_id)``;
agents read it, and ``POST /v1/threads`` requires the thread's context to exist.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# The serialized document (compact JSON, UTF-8): well under DynamoDB's 400 KB item limit.
MAX_CONTEXT_BYTES = 64 * 1024
# Levels of objects and arrays a document may nest: what any reply can serialize (pydantic stops
# at 255 levels, after the document was stored), and far more than a real subject needs.
MAX_CONTEXT_DEPTH = 64


class Context(BaseModel):
    """A stored context document of one org."""

    org_id: str
    context_type: str
    context_id: str
    document: dict[str, Any]
    created_at: str
    updated_at: str
