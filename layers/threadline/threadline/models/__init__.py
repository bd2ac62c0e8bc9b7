"""Pydantic models: the domain and the two wire dialects."""
