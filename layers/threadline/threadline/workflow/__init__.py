"""Agent types and the state machine that runs them."""
