"""The API Gateway REQUEST authorizer: Bearer API key → tenant context."""

from __future__ import annotations

from typing import Any

from threadline import observability
from threadline.auth.api_keys import hash_key, parse_bearer
from threadline.store.api_keys import ApiKeyStore


class Unauthorized(Exception):
    """API Gateway answers 401 when an authorizer raises with this exact message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorize(event: dict[str, Any], store: ApiKeyStore, shared_usage_key: str | None = None) -> dict[str, Any]:
    """An IAM policy allowing the whole API for a valid key, with the tenant as context.

    The policy covers every route (not just the one called) because API
    Gateway caches it per key for all routes; scopes are checked by the routes.
    ``usageIdentifierKey`` names the API Gateway API key whose usage plan throttles and meters
    the request: the key's own, else ``shared_usage_key`` (the stack's keys without a plan).
    """
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    key = parse_bearer(headers.get("authorization"))
    if key is None:
        raise _denied("malformed")
    record = store.get(hash_key(key))
    if record is None or not record.active:
        raise _denied("unknown" if record is None else "revoked")
    policy: dict[str, Any] = {
        "principalId": record.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": _api_arn(event)}],
        },
        "context": {
            "org_id": record.org_id,
            "project_id": record.project_id or "",
            "scopes": ",".join(record.scopes),
            "key_id": record.key_id,
            "key_name": record.name,
        },
    }
    usage_key = record.usage_key or shared_usage_key
    if usage_key:
        policy["usageIdentifierKey"] = usage_key
    return policy


def _denied(reason: str) -> Unauthorized:
    """A refusal, counted by reason (a metric: Powertools is imported on this path only)."""
    observability.count("AuthorizerDenials", reason=reason)
    return Unauthorized()


def _api_arn(event: dict[str, Any]) -> str:
    # arn:aws:execute-api:region:account:api-id/stage/METHOD/path → .../stage/*
    arn: str = event["methodArn"]
    api, _, rest = arn.partition("/")
    stage = rest.split("/", 1)[0]
    return f"{api}/{stage}/*"
