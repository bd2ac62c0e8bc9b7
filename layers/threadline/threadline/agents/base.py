"""The contract between the workflow and an agent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PreviousStep:
    """What an earlier step of the same thread produced."""

    name: str
    id: str
    status: str
    artifacts: list[dict[str, Any]]
    output: dict[str, Any]


@dataclass(frozen=True)
class AgentInput:
    """Everything an agent may use. Agents never call the network."""

    thread_id: str
    org_id: str
    step_name: str
    context_type: str
    context_id: str
    context: dict[str, Any]
    previous: dict[str, PreviousStep] = field(default_factory=dict)
    # Another context document of the same org (e.g. the operator's watchlist), or None.
    load_context: Callable[[str, str], dict[str, Any] | None] = lambda _type, _id: None


@dataclass(frozen=True)
class AgentResult:
    """An agent's artifacts (each with at least ``title`` and ``type``; agents add
    ``summary``, ``confidence``, ``content``, ``sources``) and a small machine-readable
    ``output`` later steps and conditions read (e.g. ``{"decision": "review"}``)."""

    artifacts: list[dict[str, Any]]
    output: dict[str, Any] = field(default_factory=dict)


Agent = Callable[[AgentInput], AgentResult]
