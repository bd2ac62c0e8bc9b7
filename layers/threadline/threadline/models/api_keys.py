"""What is stored of an API key (a dataclass: the authorizer imports it, and no pydantic)."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "tl_"


@dataclass(frozen=True)
class ApiKeyRecord:
    """What is stored of an API key (never the key itself)."""

    key_hash: str
    key_id: str
    org_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: str
    project_id: str | None = None
    revoked_at: str | None = None
    # The key's own API Gateway API key (its id, and its value, which the authorizer returns as
    # the usage identifier) and the usage plan it is on; None: the stack's shared one.
    usage_key_id: str | None = None
    usage_key: str | None = None
    usage_plan_id: str | None = None

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None

    @property
    def display_prefix(self) -> str:
        """The non-secret beginning of the key, e.g. ``tl_ab12cd34ef56``."""
        return f"{PREFIX}{self.key_id}"
