"""Agent implementations: the code a workflow step runs, in their own Lambda layer attached
only to the agent function.

A step's ``agent`` name ``<package>.<function>`` (e.g. ``cip.business_record``) is the
function ``<function>`` of the package ``threadline_agents.<package>``: the agent-type
registry (``threadline.workflow.agent_types``) is the only list, and the agent function
resolves names there (``threadline.workflow.agents``). An agent is a function from
:class:`threadline.models.workflow.AgentInput` to :class:`~threadline.models.workflow.AgentResult`.
"""
