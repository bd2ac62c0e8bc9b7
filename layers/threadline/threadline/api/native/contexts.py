"""Wire shapes of the native dialect's contexts (``/v1/contexts/...``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, Field

from threadline.models.contexts import Context
from threadline.models.domain import CONTEXT_TYPE_PATTERN, IDENTIFIER_PATTERN

# The path of a context. PUT checks the patterns (a 400); GET and DELETE answer 404 for a
# path that cannot name a context (logic.contexts.is_context_path).
ContextTypePath = Annotated[str, Path(description="e.g. business")]
ContextIdPath = Annotated[str, Path(description="e.g. the business id")]
NewContextTypePath = Annotated[str, Path(pattern=CONTEXT_TYPE_PATTERN, description="e.g. business")]
NewContextIdPath = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="e.g. the business id")]


class ContextOut(BaseModel):
    """A context document, as the API shows it."""

    object: Literal["context"] = "context"
    context_type: str
    context_id: str
    org_id: str
    document: dict[str, Any] = Field(description="The JSON object stored (at most 64 KB as compact JSON).")
    created_at: str
    updated_at: str = Field(description="Changes on every PUT; created_at stays that of the first.")

    @classmethod
    def fields_of(cls, context: Context) -> dict[str, Any]:
        """The wire fields of a context."""
        return {
            "context_type": context.context_type,
            "context_id": context.context_id,
            "org_id": context.org_id,
            "document": context.document,
            "created_at": context.created_at,
            "updated_at": context.updated_at,
        }

    @classmethod
    def from_context(cls, context: Context) -> ContextOut:
        """Shape a stored context."""
        return cls(**cls.fields_of(context))


class DeletedContextOut(ContextOut):
    """Reply of ``DELETE /v1/contexts/...``: the context as it was, marked deleted."""

    deleted: Literal[True] = True

    @classmethod
    def from_context(cls, context: Context) -> DeletedContextOut:
        """Shape a context that was just deleted."""
        return cls(**cls.fields_of(context))
