"""API Gateway usage plans of Threadline API keys (per-key throttling and quotas).

Each Threadline key that has a plan of its own is identified to API Gateway by an API Gateway
API key made for it (named ``threadline-<key id>``) and attached to one usage plan of the API's
stage. The API takes no key from callers (``ApiKeySourceType: AUTHORIZER``): the authorizer
returns that API key's value as ``usageIdentifierKey``, so the value is an identifier, never
shown to or sent by clients. docs/operations.md, "Per-key limits".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UsageKey:
    """A Threadline key's API Gateway API key and the usage plan it is on."""

    key_id: str
    value: str
    plan_id: str


class UsagePlans:
    """Makes, moves and deletes the API Gateway API keys of Threadline keys."""

    def __init__(self, apigateway: Any) -> None:
        self._api = apigateway

    def issue(self, key_id: str, org_id: str, plan_id: str) -> UsageKey:
        """A new API Gateway API key for Threadline key ``key_id``, on ``plan_id`` (deleted again
        when it cannot join the plan, so nothing is left behind)."""
        created = self._api.create_api_key(
            name=f"threadline-{key_id}", description=f"Threadline API key {key_id} (org {org_id})", enabled=True
        )
        try:
            self._api.create_usage_plan_key(usagePlanId=plan_id, keyId=created["id"], keyType="API_KEY")
        except Exception:
            self.delete(created["id"], None)
            raise
        return UsageKey(created["id"], created["value"], plan_id)

    def move(self, usage_key_id: str, from_plan: str | None, to_plan: str) -> None:
        """Move an API key to another plan. API Gateway allows one plan per API stage and key, so
        it leaves the old plan first (a request in that instant may be refused with 403); if the
        new plan refuses it, it goes back."""
        if from_plan:
            self._api.delete_usage_plan_key(usagePlanId=from_plan, keyId=usage_key_id)
        try:
            self._api.create_usage_plan_key(usagePlanId=to_plan, keyId=usage_key_id, keyType="API_KEY")
        except Exception:
            if from_plan:
                self._api.create_usage_plan_key(usagePlanId=from_plan, keyId=usage_key_id, keyType="API_KEY")
            raise

    def delete(self, usage_key_id: str, plan_id: str | None) -> None:
        """Take an API key off its plan and delete it; what is already gone is left alone."""
        if plan_id:
            try:
                self._api.delete_usage_plan_key(usagePlanId=plan_id, keyId=usage_key_id)
            except self._api.exceptions.NotFoundException:
                pass  # already off that plan: the key itself must go all the same
        try:
            self._api.delete_api_key(apiKey=usage_key_id)
        except self._api.exceptions.NotFoundException:
            pass
