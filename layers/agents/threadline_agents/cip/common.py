"""Small helpers the cip agents share: reading a business document's loose JSON
values and building artifacts the same way."""

from __future__ import annotations

from typing import Any


def text(value: Any) -> str | None:
    """``value`` stripped when it is a non-blank string, else ``None``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def score(value: float) -> float:
    """A score or confidence clamped to 0..1 and rounded, so outputs read (and compare) plainly."""
    return round(min(1.0, max(0.0, value)), 3)


def artifact(
    title: str,
    type_: str,
    summary: str,
    confidence: float,
    content: dict[str, Any] | None = None,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """An artifact as every cip agent writes it."""
    made: dict[str, Any] = {"title": title, "type": type_, "summary": summary, "confidence": score(confidence)}
    if content is not None:
        made["content"] = content
    if sources is not None:
        made["sources"] = sources
    return made
