"""Agents: the code a workflow step runs. An agent is a function from
:class:`AgentInput` to :class:`AgentResult`, registered by name in ``AGENTS``."""
