"""Threadline: a self-hosted agent threads API for AWS (shared layer package)."""
