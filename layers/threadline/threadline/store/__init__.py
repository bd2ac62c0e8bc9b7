"""Persistence: the DynamoDB key design and repositories."""
