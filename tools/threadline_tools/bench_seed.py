"""The data the benchmark runs on: the seeded table of the DynamoDB cost part
(threads over two orgs, steps, contexts, an API key), and, for the cold start's
first requests, a seeded moto server and the event each function answers."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from threadline_tools.bench_moto import REGION
from threadline_tools.template import routes


@dataclass
class Seeded:
    """What the measured requests need of the seeded table: the key, and the ids they read or delete."""

    key: str
    org: str
    get_id: str
    agentuity_get_id: str
    delete_ids: list[str]
    business_id: str
    per_org: int


def seed(deployment: Any, count: int) -> Seeded:
    """``count`` threads over two orgs: mixed statuses, businesses, projects, metadata; some user_data, some deleted."""
    from boto3.dynamodb.types import TypeSerializer
    from threadline import clients, wiring
    from threadline.auth.api_keys import generate_key, hash_key
    from threadline.models.api_keys import ApiKeyRecord
    from threadline.models.domain import Requester, Thread, ThreadStatus
    from threadline.store import keys
    from threadline.store.api_keys import ApiKeyStore
    from threadline.timeutil import format_time, now_iso

    orgs = ("acme", "globex")
    key_id, key = generate_key()
    ApiKeyStore(clients.dynamodb(), deployment.keys_table).put(
        ApiKeyRecord(
            key_hash=hash_key(key),
            key_id=key_id,
            org_id=orgs[0],
            name="bench key",
            scopes=("read", "write"),
            created_at=now_iso(),
        )
    )
    statuses: tuple[ThreadStatus, ...] = ("running", "completed", "running", "completed", "failed")
    statuses += ("completed", "running", "cancelled", "completed", "interrupted")
    store = wiring.thread_store()
    base = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
    ids: dict[str, list[str]] = {org: [] for org in orgs}
    for i in range(count):
        org = orgs[i % 2]
        n = i // 2
        stamp = format_time(base + timedelta(minutes=i))
        deleted = n % 20 == 19
        thread = Thread(
            id=str(uuid.UUID(int=i + 1)),
            type="cip_orchestrator",
            status=statuses[n % len(statuses)],
            org_id=org,
            project_id="growth" if n % 5 == 4 else "default",
            context_type="business",
            context_id=f"biz-{n % 20:03d}",
            metadata={"tier": "gold" if n % 4 == 0 else "silver", "region": ("eu", "us")[n % 2], "seq": n},
            user_data=json.dumps({"customer": f"c-{n}", "notes": "x" * 200}) if n % 2 == 0 else None,
            requester=Requester(id=key_id, name="bench key"),
            created_at=stamp,
            updated_at=stamp,
            deleted=deleted,
            deleted_at=stamp if deleted else None,
            deleted_by=key_id if deleted else None,
        )
        store.create(thread)
        ids[org].append(thread.id)
    # Three steps on the thread that is read, as the workflow records them.
    mine = ids[orgs[0]]
    serializer = TypeSerializer()
    for s in range(3):
        started = format_time(base + timedelta(minutes=1, seconds=s))
        step = {
            **keys.thread_key(orgs[0], mine[0]),
            "id": f"step-{s}",
            "run_id": "run-1",
            "name": f"step_{s}",
            "label": f"Step {s}",
            "status": "completed",
            "started_at": started,
            "completed_at": started,
            "agent": "bench",
            "artifacts_json": json.dumps([{"title": "result", "type": "check", "summary": "ok"}]),
        }
        step["sk"] = keys.step_sk(s + 1, step["name"])
        clients.dynamodb().put_item(
            TableName=deployment.threads_table, Item={k: serializer.serialize(v) for k, v in step.items()}
        )
    running = [t for i, t in enumerate(mine) if statuses[i % len(statuses)] == "running" and i % 20 != 19]
    from threadline_tools.local import SAMPLE_BUSINESS

    for business_id in [*(f"biz-{n:03d}" for n in range(20)), "biz-delete"]:
        wiring.context_store().put(orgs[0], "business", business_id, json.dumps(SAMPLE_BUSINESS), now_iso())
    return Seeded(
        key=key,
        org=orgs[0],
        get_id=mine[0],
        agentuity_get_id=mine[1],
        delete_ids=running[-2:],
        business_id="biz-004",
        per_org=len(mine),
    )


class ColdRequests:
    """Seeds a moto server and builds each function's first request (an event, or the floor's GetItem)."""

    def __init__(self, endpoint: str) -> None:
        import boto3
        from threadline.auth.api_keys import generate_key, hash_key
        from threadline.models.api_keys import ApiKeyRecord
        from threadline.store.api_keys import ApiKeyStore
        from threadline.store.crypto import UserDataCipher
        from threadline.store.threads import ThreadStore
        from threadline.timeutil import now_iso

        from threadline_tools.provision import provision

        args: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self.deployment = provision("bench-cold", **args)
        dynamodb = boto3.client("dynamodb", **args)
        self._keys = ApiKeyStore(dynamodb, self.deployment.keys_table)
        key_id, self._key = generate_key()
        self._key_hash = hash_key(self._key)
        self._keys.put(
            ApiKeyRecord(
                key_hash=self._key_hash,
                key_id=key_id,
                org_id="bench-org",
                name="bench key",
                scopes=("read", "write"),
                created_at=now_iso(),
            )
        )
        kms = boto3.client("kms", **args)
        cipher = UserDataCipher(lambda: kms, self.deployment.kms_key_id)
        self._store = ThreadStore(
            dynamodb, self.deployment.threads_table, cipher, self.deployment.retention_days, b"bench"
        )
        self._shared_thread = self._new_thread()
        from threadline.store.contexts import ContextStore

        self._contexts = ContextStore(dynamodb, self.deployment.threads_table)
        self._new_context("biz-001")  # the business threads are created on

    def _new_context(self, context_id: str | None = None) -> str:
        from threadline.timeutil import now_iso

        from threadline_tools.local import SAMPLE_BUSINESS

        context_id = context_id or f"biz-{uuid.uuid4()}"
        self._contexts.put("bench-org", "business", context_id, json.dumps(SAMPLE_BUSINESS), now_iso())
        return context_id

    def _new_thread(self) -> str:
        from threadline.models.domain import Requester, Thread
        from threadline.timeutil import now_iso

        stamp = now_iso()
        thread = Thread(
            id=str(uuid.uuid4()),
            type="cip_orchestrator",
            status="running",
            org_id="bench-org",
            project_id="default",
            context_type="business",
            context_id="biz-001",
            metadata={"tier": "gold"},
            user_data=json.dumps({"note": "benchmark"}),
            requester=Requester(id="bench", name="bench"),
            created_at=stamp,
            updated_at=stamp,
        )
        self._store.create(thread)
        return thread.id

    def floor_call(self) -> dict[str, Any]:
        return {"TableName": self.deployment.keys_table, "Key": {"key_hash": {"S": self._key_hash}}}

    def event(self, function: str, kind: str) -> dict[str, Any]:
        from threadline.auth.authorizer import authorize

        from threadline_tools.gateway import ACCOUNT, API_ID, STAGE, Gateway

        route = next((r for r in routes() if r.function == function), None)
        if route is None:  # the authorizer: authorize a list request
            route = next(r for r in routes() if r.method == "GET" and "{" not in r.path)
        method = "PUT" if route.method == "ANY" else route.method
        thread_id = self._new_thread() if method == "DELETE" else self._shared_thread
        path = route.path.replace("{thread_id}", thread_id)
        params = {"thread_id": thread_id} if "{thread_id}" in route.path else {}
        if "{context_id}" in route.path:
            context_id = self._new_context() if method == "DELETE" else "biz-001"
            path = path.replace("{context_type}", "business").replace("{context_id}", context_id)
            params.update(context_type="business", context_id=context_id)
        body = None
        if method == "PUT" and route.method == "PUT":
            from threadline_tools.local import SAMPLE_BUSINESS

            body = json.dumps(SAMPLE_BUSINESS)
        if method == "POST":
            body = json.dumps(
                {"type": "cip_orchestrator", "business_id": "biz-001", "metadata": {"tier": "gold"}, "user_data": "x"}
            )
        headers = {"Authorization": f"Bearer {self._key}", "Content-Type": "application/json"}
        event = Gateway._event(method, path, route.path, headers, {}, body, params)
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{method}{path}"
        request = {"type": "REQUEST", "methodArn": method_arn, **event}
        if kind == "authorizer":
            return request
        policy = authorize(request, self._keys)
        event["requestContext"]["authorizer"] = {**policy["context"], "principalId": policy["principalId"]}
        return event
