"""The reference agent type ``cip_orchestrator``: customer identification (CIP) for a business.

Its agents, by the name a step gives (``cip.<function>``); the rules live in the modules below.
"""

from threadline_agents.cip.address import address_check
from threadline_agents.cip.record import business_record, decision
from threadline_agents.cip.tin import tin_check
from threadline_agents.cip.watchlist import watchlist_screening

__all__ = ["address_check", "business_record", "decision", "tin_check", "watchlist_screening"]
