"""Wire models of the Agentuity dialect (``/thread``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from threadline.models.domain import Thread


class AgentuityThread(BaseModel):
    """A thread as the Agentuity Threads API shows it."""

    id: str
    created_at: str
    updated_at: str
    deleted: bool
    deleted_at: str | None
    deleted_by: str | None
    org_id: str
    project_id: str
    user_data: str | None
    metadata: dict[str, Any] | None

    @classmethod
    def from_thread(cls, thread: Thread) -> AgentuityThread:
        """Shape a domain thread for this dialect."""
        return cls.model_validate(thread.model_dump(include=set(cls.model_fields)))


class AgentuityThreadResponse(BaseModel):
    """``{"success": true, "data": thread}``."""

    success: Literal[True] = True
    data: AgentuityThread


class AgentuityThreadListResponse(BaseModel):
    """``{"success": true, "data": [thread, ...]}``."""

    success: Literal[True] = True
    data: list[AgentuityThread]


class AgentuitySuccess(BaseModel):
    """``{"success": true}``: the Agentuity SDK rejects an empty body."""

    success: Literal[True] = True
