"""Use cases: one module each, taking and returning domain models."""
