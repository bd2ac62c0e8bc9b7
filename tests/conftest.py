"""Shared fixtures: a moto-backed deployment built from template.yaml, API keys,
and a gateway that runs the authorizer and the handlers as API Gateway does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from threadline.auth.api_keys import ApiKeyRecord, generate_key, hash_key
from threadline.store import clients, factory
from threadline.store.api_keys import ApiKeyStore
from threadline.timeutil import now_iso
from threadline_tools.gateway import Gateway, Reply
from threadline_tools.provision import Deployment, provision

EVENTS = Path(__file__).resolve().parents[1] / "events"
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """Every stateful resource of template.yaml, on moto, with the functions' environment set."""
    with mock_aws(config=MOTO_CONFIG):
        created = provision()
        for name, value in created.environment().items():
            monkeypatch.setenv(name, value)
        factory.reset()
        yield created
        factory.reset()


class Keys:
    """Makes API keys the way ``threadline keys create`` does."""

    def __init__(self, deployment: Deployment) -> None:
        self._store = ApiKeyStore(clients.dynamodb(), deployment.keys_table)

    def create(
        self, org_id: str = "acme", project_id: str | None = None, scopes: tuple[str, ...] = ("read", "write")
    ) -> str:
        key_id, key = generate_key()
        self._store.put(
            ApiKeyRecord(
                key_hash=hash_key(key),
                key_id=key_id,
                org_id=org_id,
                name=f"test key of {org_id}",
                scopes=scopes,
                created_at=now_iso(),
                project_id=project_id,
            )
        )
        return key


@pytest.fixture
def keys(deployment: Deployment) -> Keys:
    return Keys(deployment)


class Api:
    """A client of the in-process gateway, with a default API key."""

    def __init__(self, gateway: Gateway, key: str) -> None:
        self.gateway = gateway
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        raw_body: str | None = None,
    ) -> Reply:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key != "":
            all_headers["Authorization"] = f"Bearer {key or self.key}"
        multi = {k: v if isinstance(v, list) else [str(v)] for k, v in (query or {}).items()}
        text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        return self.gateway.request(method, path, all_headers, multi, text)


@pytest.fixture
def api(deployment: Deployment, keys: Keys) -> Api:
    return Api(Gateway(), keys.create())


def load_event(name: str) -> dict[str, Any]:
    """An ``events/`` file, as ``sam local invoke -e`` reads it."""
    return json.loads((EVENTS / name).read_text())


def wait_for_status(api: Api, thread_id: str, wanted: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll a thread until its status is ``wanted`` (the workflow runs on moto's thread)."""
    deadline = time.monotonic() + timeout
    while True:
        body = api.call("GET", f"/v1/threads/{thread_id}").json()
        if body.get("status") == wanted or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def table_items(deployment: Deployment) -> list[dict[str, Any]]:
    """Every item of the threads table (tests use it to prove nothing was written)."""
    reply = clients.dynamodb().scan(TableName=deployment.threads_table)
    return reply["Items"]
