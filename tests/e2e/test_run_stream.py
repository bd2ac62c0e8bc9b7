"""A run's stream over real HTTP, followed by real clients: the WHATWG EventSource for node with
@ag-ui/core's schemas (tools/agui/follow.mjs), an SSE client library for Python (sseclient-py),
and curl -N, against the local server, while a real run waits for a person and is resumed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sseclient import SSEClient
from threadline_tools.template import ROOT

from tests.e2e.conftest import Server, running_server

pytestmark = pytest.mark.e2e

WINDOW = 1.5  # seconds a request holds for new events (20 when deployed)
HARNESS = ROOT / "tools" / "agui"
SUSPICIOUS = json.loads((ROOT / "events" / "businesses" / "suspicious.json").read_text())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAM_WINDOW_SECONDS", str(WINDOW))  # the server takes the caller's environment
        with running_server(tmp_path_factory.mktemp("stream")) as running:
            yield running


def follow(server: Server, run_id: str, *options: str, timeout: float = 60) -> subprocess.Popen[str]:
    """Start following a run's stream with EventSource (node); its output is one JSON line per message."""
    node = shutil.which("node")
    if node is None or not (HARNESS / "node_modules").is_dir():
        pytest.fail("the AG-UI harness is not installed: make install-agui (node >= 20, npm)")
    url = f"{server.url}/v1/runs/{run_id}/stream"
    return subprocess.Popen(
        [node, str(HARNESS / "follow.mjs"), url, server.key, "--timeout", str(timeout), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def lines_of(process: subprocess.Popen[str], timeout: float = 90) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The messages a follower printed, and its last line (why it ended, how many requests)."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines and "end" in lines[-1], out + err
    return lines[:-1], lines[-1]


def run_of(server: Server, run_id: str) -> dict[str, Any]:
    reply = server.call("GET", f"/v1/runs/{run_id}")
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def wait_for_run(server: Server, run_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (run := run_of(server, run_id))["status"] != status and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run["status"] == status, run
    return run


@pytest.fixture(scope="module")
def followed(server: Server) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """A run of the suspicious business followed live from its start to its end, while a person
    answers its interrupt: (run id, the messages, the follower's last line)."""
    assert server.call("PUT", "/v1/contexts/business/biz_stream", json=SUSPICIOUS).status_code in (200, 201)
    created = server.call("POST", "/v1/runs", json={"type": "cip_orchestrator", "business_id": "biz_stream"})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    follower = follow(server, run_id)
    try:
        # (the person answers once the follower has seen the pause, however slowly node started)
        seen = []
        assert follower.stdout is not None
        while not any(m.get("type") == "CUSTOM" and m["data"].get("name") == "run.interrupted" for m in seen):
            line = follower.stdout.readline()
            assert line, "the follower ended before the run's interrupt"
            seen.append(json.loads(line))
        waiting = wait_for_run(server, run_id, "interrupted")
        time.sleep(WINDOW + 0.5)  # at least one window passes without an event: the follower reconnects
        action = {"type": "decision", "interrupt_id": waiting["interrupts"][0]["id"], "decision": "approve"}
        answered = server.call("POST", f"/v1/runs/{run_id}/actions", json=action)
        assert answered.status_code == 200, answered.text
        rest, end = lines_of(follower)
        messages = seen + rest
    finally:
        follower.kill()
    wait_for_run(server, run_id, "completed")
    return run_id, messages, end


def test_an_eventsource_follows_a_run_through_its_interrupt_to_its_end(
    followed: tuple[str, list[dict[str, Any]], dict[str, Any]],
) -> None:
    run_id, messages, end = followed
    types = [m["type"] for m in messages]

    # Then every message's data is valid by @ag-ui/core's schema for its type
    assert [m for m in messages if not m["valid"]] == []
    # And the run is told in order: started, steps with snapshots, the pause and the resumption, finished
    assert end["end"] == "finished" and types[0] == "RUN_STARTED" and types[-1] == "RUN_FINISHED"
    assert types.count("RUN_STARTED") == 1 and {"STEP_STARTED", "STEP_FINISHED", "STATE_SNAPSHOT"} <= set(types)
    assert types.index("STEP_STARTED") < types.index("STEP_FINISHED") < types.index("STATE_SNAPSHOT")
    customs = [m["data"]["name"] for m in messages if m["type"] == "CUSTOM"]
    assert customs == ["run.interrupted", "run.resumed"]
    # And no message came twice, though the follower reconnected (with Last-Event-ID) across windows
    ids = [m["id"] for m in messages]
    assert len(set(ids)) == len(ids) and end["connections"] > 1
    # And every message carries AG-UI's ids and Middesk's run_id
    assert {(m["data"]["runId"], m["data"]["run_id"]) for m in messages} == {(run_id, run_id)}
    # And the last snapshot is the run as it ended, with every step and its artifacts
    last = [m["data"]["snapshot"] for m in messages if m["type"] == "STATE_SNAPSHOT"][-1]
    assert last["status"] == "completed" and last["id"] == run_id
    assert all(step["status"] == "completed" for step in last["steps"])
    assert any(artifact["type"] == "decision" for step in last["steps"] for artifact in step["artifacts"])


def test_a_finished_run_replays_the_same_stream_resumes_after_any_message_and_then_204(
    server: Server, followed: tuple[str, list[dict[str, Any]], dict[str, Any]]
) -> None:
    run_id, live, _ = followed
    seen = [(m["id"], m["type"]) for m in live]

    # When the finished run is followed again, then it is the same stream, in one request
    replayed, end = lines_of(follow(server, run_id))
    assert [(m["id"], m["type"]) for m in replayed] == seen and all(m["valid"] for m in replayed)
    assert (end["end"], end["connections"]) == ("finished", 1)

    # When a client resumes with Last-Event-ID, then it gets exactly the messages after it
    middle = len(live) // 2
    rest, _ = lines_of(follow(server, run_id, "--last-event-id", live[middle]["id"]))
    assert [(m["id"], m["type"]) for m in rest] == seen[middle + 1 :]

    # When it resumes after the last message, then 204: EventSource stops, having nothing to show
    after, end = lines_of(follow(server, run_id, "--last-event-id", live[-1]["id"]))
    assert after == [] and end["end"].startswith("closed: 204")
    done = server.call("GET", f"/v1/runs/{run_id}/stream", headers={"Last-Event-ID": live[-1]["id"]})
    assert (done.status_code, done.text) == (204, "")


def test_an_sse_client_library_resumes_with_last_event_id_and_curl_shows_the_messages(
    server: Server, followed: tuple[str, list[dict[str, Any]], dict[str, Any]]
) -> None:
    run_id, live, _ = followed
    url = f"{server.url}/v1/runs/{run_id}/stream"
    headers = {"Authorization": f"Bearer {server.key}", "Accept": "text/event-stream"}

    # Given a Python client that read five messages and lost its connection
    with requests.get(url, headers=headers, stream=True, timeout=10) as reply:
        assert reply.headers["Content-Type"] == "text/event-stream"
        events = SSEClient(reply.iter_content(chunk_size=None)).events()
        first = [next(events) for _ in range(5)]

    # When it reconnects with the id of the last one
    resumed = headers | {"Last-Event-ID": first[-1].id}
    with requests.get(url, headers=resumed, stream=True, timeout=10) as reply:
        rest = list(SSEClient(reply.iter_content(chunk_size=None)).events())

    # Then together they are the whole stream, once
    got = [(event.id, json.loads(event.data)["type"]) for event in first + rest]
    assert got == [(m["id"], m["type"]) for m in live]

    # And curl -N shows the messages as they are (the local server passes the event stream through)
    curl = shutil.which("curl")
    if curl is not None:
        shown = subprocess.run(
            [curl, "-sN", url, "-H", f"Authorization: Bearer {server.key}"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "NO_PROXY": "*"},
        )
        assert shown.stdout.startswith("retry: ") and f"id: {live[0]['id']}\ndata: " in shown.stdout
        assert shown.stdout.rstrip().endswith("}") and '"type":"RUN_FINISHED"' in shown.stdout
