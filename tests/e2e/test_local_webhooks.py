"""Webhooks on the local server over real HTTP: started with --allow-loopback-webhooks, it
delivers a thread's events, signed, to a receiver on 127.0.0.1, and retries a failed delivery
within seconds (its compressed schedule)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

from tests.e2e.conftest import BUSINESS, running_server, wait_for_status

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[float, dict[str, str], str]]]]:
    """A receiver on 127.0.0.1 that fails its first delivery (500) and takes the rest (204)."""
    received: list[tuple[float, dict[str, str], str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            received.append((time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(500 if len(received) == 1 else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_the_local_server_delivers_to_a_loopback_receiver_when_allowed(
    tmp_path: Path, receiver: tuple[str, list[tuple[float, dict[str, str], str]]]
) -> None:
    url, received = receiver
    with running_server(tmp_path, "--allow-loopback-webhooks") as server:
        # Given an endpoint on this machine
        reply = server.call("POST", "/v1/webhook_endpoints", json={"url": url})
        assert reply.status_code == 201, reply.text
        endpoint = reply.json()

        # When a thread runs to its end
        assert server.call("PUT", "/v1/contexts/business/biz_123", json=BUSINESS).status_code in (200, 201)
        thread = server.call("POST", "/v1/threads", json={"type": "cip_orchestrator", "business_id": "biz_123"})
        assert thread.status_code == 201, thread.text
        assert wait_for_status(server, thread.json()["id"], "completed")["status"] == "completed"

        # Then the receiver gets every event of its run, signed; the one it failed is retried within seconds
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            types = {json.loads(body)["type"] for _, _, body in received}
            ids = [headers["webhook-id"] for _, headers, _ in received]
            if "run.completed" in types and len(ids) > len(set(ids)):
                break
            time.sleep(0.2)
        hook = standardwebhooks.Webhook(endpoint["secret"])
        payloads = [hook.verify(body, headers) for _, headers, body in received]
        assert {"run.created", "run.step_started", "run.step_finished", "run.completed"} <= {
            p["type"] for p in payloads
        }
        first_id = received[0][1]["webhook-id"]
        retried = [at for at, headers, _ in received if headers["webhook-id"] == first_id]
        assert len(retried) == 2 and retried[1] - retried[0] < 10
        log = server.call("GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries", params={"limit": 100}).json()
        states = {(a["event_id"], a["attempt"]): a["state"] for a in log["data"]}
        assert states[(first_id, 1)] == "retrying" and states[(first_id, 2)] == "delivered"


def test_without_the_flag_loopback_receivers_are_refused(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        reply = server.call("POST", "/v1/webhook_endpoints", json={"url": "http://127.0.0.1:9/hook"})
        assert reply.status_code == 400
        assert reply.json()["errors"][0]["message"] == "url must use https"
        reply = server.call("POST", "/v1/webhook_endpoints", json={"url": "https://127.0.0.1:9/hook"})
        assert reply.status_code == 400
        assert "resolves to a loopback address" in reply.json()["errors"][0]["message"]
