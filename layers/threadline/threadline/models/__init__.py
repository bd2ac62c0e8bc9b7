"""Domain models (threads, steps, list queries, agent types, the workflow contract). The wire
shapes of each dialect live at the edge, in ``threadline.api.native`` and ``threadline.api.agentuity``."""
