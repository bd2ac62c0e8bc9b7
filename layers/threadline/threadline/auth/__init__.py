"""API keys and the authorizer (kept free of pydantic for a fast cold start)."""
