"""The registry of agent types, the one list of them. Adding an agent type is adding one
definition here and its agents in ``threadline_agents.<package>`` (CONTRIBUTING.md): a step's
``agent`` name ``<package>.<function>`` is that function (``workflow.agents`` resolves it)."""

from __future__ import annotations

from threadline.models.agent_types import AgentType, Condition, Proposal, StepDefinition

CIP_ORCHESTRATOR = AgentType(
    name="cip_orchestrator",
    description=(
        "Customer identification for a business: checks its record, TIN, address and"
        " watchlist exposure, then decides approve, review or reject; a review waits for a human"
        " (who is proposed to reject an escalated review and approve any other)."
    ),
    context_types=("business",),
    steps=(
        StepDefinition("business_record", "Business record completeness", agent="cip.business_record"),
        StepDefinition(
            "tin_check",
            "TIN format and validity",
            agent="cip.tin_check",
            parent="business_record",
            parallel_group="checks",
        ),
        StepDefinition(
            "address_check",
            "Address completeness and normalisation",
            agent="cip.address_check",
            parent="business_record",
            parallel_group="checks",
        ),
        StepDefinition(
            "watchlist_screening",
            "Watchlist name screening",
            agent="cip.watchlist_screening",
            parent="business_record",
            parallel_group="checks",
        ),
        StepDefinition("decision", "CIP decision", agent="cip.decision"),
        StepDefinition(
            "human_review",
            "Human review",
            agent="human",
            type="interrupt",
            parent="decision",
            when=Condition(step="decision", key="decision", equals="review"),
            proposal=Proposal(step="decision", key="proposed"),
        ),
    ),
)

AGENT_TYPES: dict[str, AgentType] = {agent.name: agent for agent in (CIP_ORCHESTRATOR,)}


def agent_type(name: str) -> AgentType | None:
    """The agent type called ``name``, if registered."""
    return AGENT_TYPES.get(name)
