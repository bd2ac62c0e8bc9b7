"""Agents by name: a step's ``agent`` ``<package>.<function>`` is the function of the
``threadline_agents.<package>`` package (the agents layer, attached to the agent function only).

The registry of agent types is the one list: only an agent one of its steps names can run, so a
name never imports anything the registry does not declare.
"""

from __future__ import annotations

import importlib

from threadline.models.workflow import Agent, AgentInput, AgentResult
from threadline.workflow.agent_types import AGENT_TYPES

AGENTS_PACKAGE = "threadline_agents"


class UnknownAgentError(LookupError):
    """No registered agent type has a step that runs the agent a step asked for."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown agent {name!r}; registered: {', '.join(sorted(agent_names()))}.")
        self.name = name


def agent_names() -> set[str]:
    """Every agent a registered agent type's activity steps run."""
    return {step.agent for kind in AGENT_TYPES.values() for step in kind.steps if step.type == "activity"}


def resolve_agent(name: str) -> Agent:
    """The function registered as ``name``; looked up at each call, so a test may replace it."""
    package, _, function = name.partition(".")
    if name not in agent_names() or not function:
        raise UnknownAgentError(name)
    agent = getattr(importlib.import_module(f"{AGENTS_PACKAGE}.{package}"), function, None)
    if not callable(agent):
        raise UnknownAgentError(name)
    return agent  # type: ignore[no-any-return]


def run_agent(name: str, agent_input: AgentInput) -> AgentResult:
    """Run the agent registered as ``name`` over ``agent_input``."""
    return resolve_agent(name)(agent_input)
