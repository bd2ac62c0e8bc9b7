"""The local server over real HTTP, as the e2e modules start it: ``python -m threadline_tools.local``
in a subprocess on a free port, with a key of its own, driven with ``requests`` (or with
``http.client`` and raw sockets where ``requests`` would rewrite the request)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from threadline.auth.api_keys import generate_key
from threadline_tools.local import READY_LINE
from threadline_tools.template import ROOT

START_TIMEOUT = 60.0
BUSINESS = json.loads(json.loads((ROOT / "events" / "put_context.json").read_text())["body"])


@dataclass
class RawReply:
    """A response as ``http.client`` reads it."""

    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Server:
    url: str
    key: str
    env: dict[str, str]
    log: Path
    endpoint_url: str = ""  # the emulation's (moto's) endpoint

    def call(
        self, method: str, path: str, key: str | None = None, timeout: float = 10, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"} if key != "" else {}
        headers |= kwargs.pop("headers", None) or {}
        return requests.request(method, self.url + path, headers=headers, timeout=timeout, **kwargs)

    def raw(self, method: str, target: str, body: bytes | None = None, timeout: float = 10) -> RawReply:
        """One request with ``target`` sent exactly as given (``requests`` would decode some
        percent-escapes before sending), with the server's key."""
        address = urlsplit(self.url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=timeout)
        try:
            headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            return RawReply(response.status, dict(response.getheaders()), response.read().decode())
        finally:
            connection.close()

    def exchange(self, data: bytes, timeout: float = 10) -> bytes:
        """Send ``data`` as is on a new connection; everything the server answers until it closes."""
        address = urlsplit(self.url)
        with socket.create_connection((address.hostname or "", address.port or 80), timeout=timeout) as connection:
            connection.sendall(data)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        return answer

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        """What the server logged after ``offset`` (from ``log_size``)."""
        with self.log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "threadline_tools.cli", *argv],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )


def environment(state_file: Path) -> dict[str, str]:
    """The server's environment: no AWS settings of the caller's, a state file of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "THREADLINE_"))}
    # A file of its own, so a developer's running `threadline dev` is left alone.
    env["THREADLINE_LOCAL_FILE"] = str(state_file)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextmanager
def running_server(workdir: Path, *flags: str) -> Iterator[Server]:
    """A local server (started with ``flags``) until the block ends; then its shutdown is checked to be clean."""
    state_file = workdir / "local.json"
    log = workdir / "server.log"
    env = environment(state_file)
    _, key = generate_key()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "threadline_tools.local", "--port", "0", "--api-key", key, *flags],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while READY_LINE not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"local server did not start (exit code {process.poll()}):\n{log.read_text()}")
            time.sleep(0.1)
        state = json.loads(state_file.read_text())
        assert key in log.read_text()  # the banner shows the key it serves with
        yield Server(state["api_url"], key, env, log, state["endpoint_url"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # A clean shutdown: exit code 0 and the state file removed.
    assert process.returncode == 0, log.read_text()
    assert not state_file.exists()


def wait_for_status(server: Server, thread_id: str, wanted: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = server.call("GET", f"/v1/threads/{thread_id}").json()
        if body.get("status") == wanted or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def settle(server: Server, query: dict[str, Any], timeout: float = 180.0) -> dict[str, Any]:
    """``GET /v1/threads`` with ``query`` until every listed thread has finished, so that the next
    test does not share the CPU with their workflows; the last page. (A read waits for the stream's
    delivery to the indexer, which running workflows keep busy: hence the long timeouts.)"""
    deadline = time.monotonic() + timeout
    while True:
        page: dict[str, Any] = server.call("GET", "/v1/threads", params=query, timeout=timeout).json()
        running = [t for t in page["data"] if t["status"] in ("running", "interrupted")]
        if not running or time.monotonic() > deadline:
            return page
        time.sleep(0.5)
