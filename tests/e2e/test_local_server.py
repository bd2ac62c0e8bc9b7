"""The local server over real HTTP: `python -m threadline_tools.local` in a
subprocess, driven with `requests`, keys managed with the CLI in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from threadline.auth.api_keys import KEY_PATTERN
from threadline_tools.template import ROOT

from tests.e2e.conftest import BUSINESS, Server, environment, running_server, settle, wait_for_status

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("local")) as running:
        yield running


def test_thread_lifecycle_in_both_dialects(server: Server) -> None:
    # The businesses threads work on are stored first (a thread on an unknown business is a 404)
    for business_id in ("biz_123", "biz_456"):
        stored = server.call("PUT", f"/v1/contexts/business/{business_id}", json=BUSINESS)
        assert stored.status_code == 201, stored.text
    assert server.call("GET", "/v1/contexts/business/biz_123").json()["document"] == BUSINESS
    unknown = server.call("POST", "/v1/threads", json={"type": "cip_orchestrator", "business_id": "biz_999"})
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["parameter"] == "business_id"

    # Create: 201, running
    created = server.call(
        "POST", "/v1/threads", json={"type": "cip_orchestrator", "business_id": "biz_123", "metadata": {"team": "e2e"}}
    )
    assert created.status_code == 201, created.text
    thread = created.json()
    assert thread["status"] == "running" and thread["org_id"] == "local" and thread["business_id"] == "biz_123"
    thread_id = thread["id"]

    # The workflow runs on the emulated Step Functions and completes the thread
    assert wait_for_status(server, thread_id, "completed")["status"] == "completed"

    # Listed in both dialects
    native = server.call("GET", "/v1/threads")
    assert native.status_code == 200
    assert thread_id in [t["id"] for t in native.json()["data"]]
    agentuity = server.call("GET", "/thread")
    assert agentuity.status_code == 200 and agentuity.json()["success"] is True
    assert thread_id in [t["id"] for t in agentuity.json()["data"]]

    # Filtered by metadata in both dialects (another thread without it stays out)
    other = server.call("POST", "/v1/threads", json={"type": "cip_orchestrator", "business_id": "biz_456"}).json()
    wanted = json.dumps({"team": "e2e"})
    for path in ("/v1/threads", "/thread"):
        filtered = server.call("GET", path, params={"metadata": wanted})
        assert filtered.status_code == 200, filtered.text
        ids = [t["id"] for t in filtered.json()["data"]]
        assert ids == [thread_id], path
    assert other["id"] not in ids

    # The deployed stage prefix is accepted too
    assert server.call("GET", f"/api/v1/threads/{thread_id}").json()["id"] == thread_id

    # Deleted through the Agentuity dialect: 200 {"success": true}
    deleted = server.call("DELETE", f"/thread/{thread_id}")
    assert deleted.status_code == 200 and deleted.json() == {"success": True}

    # Gone in both dialects
    assert server.call("GET", f"/v1/threads/{thread_id}").status_code == 404
    gone = server.call("GET", f"/thread/{thread_id}")
    assert gone.status_code == 404 and gone.json()["success"] is False


def test_fifty_concurrent_creates_in_one_org_all_succeed_and_count(server: Server) -> None:
    # Given a business, and 50 clients creating threads in the same org at once
    assert server.call("PUT", "/v1/contexts/business/biz_burst", json=BUSINESS).status_code in (200, 201)
    marker = {"burst": str(time.time())}
    body = {"type": "cip_orchestrator", "business_id": "biz_burst", "metadata": marker}

    # When they post concurrently
    with ThreadPoolExecutor(max_workers=50) as pool:
        started = time.monotonic()
        # (locally the 50 handlers run at once, as on Lambda, but with the 50 workflows they start
        # on the same cores and one interpreter: slow, not AWS)
        replies = list(pool.map(lambda _: server.call("POST", "/v1/threads", json=body, timeout=300), range(50)))
        elapsed = time.monotonic() - started

    # Then every create succeeds (no counter is in a client's write: no transaction conflict can
    # reach one), and the stream-fed counters count exactly 50
    assert [r.status_code for r in replies] == [201] * 50, [r.text for r in replies if r.status_code != 201]
    query = {"metadata": json.dumps(marker), "per_page": 100}
    listed = server.call("GET", "/v1/threads", params=query, timeout=180).json()
    assert (listed["total_count"], len(listed["data"])) == (50, 50)
    print(f"50 concurrent creates through the local server: {elapsed:.1f} s, all 201")
    settle(server, query)


def test_requests_without_a_valid_key_are_401(server: Server) -> None:
    for key in ("", "tl_aaaaaaaaaaaa_" + "A" * 43, "not-a-key"):
        for path in ("/v1/threads", "/thread"):
            reply = server.call("GET", path, key=key)
            assert reply.status_code == 401, (key, path)
            assert reply.json()["code"] == "unauthorized"


def test_cli_keys_against_the_running_server(server: Server) -> None:
    # Given a key created with the CLI against the local server
    created = server.cli("keys", "create", "--local", "--org", "e2e-org", "--name", "e2e key")
    assert created.returncode == 0, created.stderr
    key = next(word for word in created.stdout.split() if KEY_PATTERN.match(word))
    key_id = key.split("_")[1]

    # Then it works, in its own org (on that org's own business)
    assert server.call("PUT", "/v1/contexts/business/b1", key=key, json=BUSINESS).status_code == 201
    reply = server.call("POST", "/v1/threads", key=key, json={"type": "cip_orchestrator", "business_id": "b1"})
    assert reply.status_code == 201, reply.text
    assert reply.json()["org_id"] == "e2e-org"
    # And it is listed
    listed = server.cli("keys", "list", "--local", "--org", "e2e-org")
    assert listed.returncode == 0 and key_id in listed.stdout and key not in listed.stdout

    # When it is revoked, the next request is 401 (the local gateway does not cache authorizations)
    revoked = server.cli("keys", "revoke", key_id, "--local")
    assert revoked.returncode == 0, revoked.stderr
    assert server.call("GET", "/v1/threads", key=key).status_code == 401
    # While the server's own key keeps working
    assert server.call("GET", "/v1/threads").status_code == 200


def test_malformed_api_key_is_refused_at_start() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "threadline_tools.local", "--port", "0", "--api-key", "tl_short_key"],
        cwd=ROOT,
        env=environment(Path("/nonexistent/local.json")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "malformed API key" in result.stderr
