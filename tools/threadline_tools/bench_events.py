"""Benchmark: how soon an event can be read after the change it records, on the local server.

``python -m threadline_tools.bench_events [--runs 5]`` (``make bench-events``) starts the local
server (``python -m threadline_tools.local``, with loopback webhooks allowed), registers a
webhook endpoint on a receiver of its own, and runs the CIP agent on sample businesses. For every
event it notes when it was first seen

- in the log: ``GET /v1/events?run_id=`` polled every 200 ms,
- on the run's stream: ``GET /v1/runs/{id}/stream``, followed with ``Last-Event-ID``,
- by the webhook receiver: the delivery's arrival (``webhook-id`` is the event id),

and reports (after one run to warm up, not counted), per way of reading, the latency from the
change (the event's ``created_at``, which is the changed item's own time stamp, on this machine's
clock) as p50, p95 and max, against the issue's target of 2 s. Runs go one at a time (the latency
of a server at work, not of one swamped). Rows go to ``.threadline/bench/events.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from threadline.auth.api_keys import generate_key
from threadline.timeutil import parse_time

from threadline_tools.local import READY_LINE
from threadline_tools.template import ROOT

RESULTS = ROOT / ".threadline" / "bench"
TARGET_SECONDS = 2.0
POLL_SECONDS = 0.2


class Receiver:
    """A webhook receiver on 127.0.0.1 that notes when each event first arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        arrived = self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived.setdefault(self.headers.get("webhook-id", ""), time.time())
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def local_server(workdir: Path) -> Iterator[tuple[str, str]]:
    """The local server in a subprocess: its URL and key."""
    state_file, log = workdir / "local.json", workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "THREADLINE_"))}
    env["THREADLINE_LOCAL_FILE"] = str(state_file)
    _, key = generate_key()
    command = [sys.executable, "-m", "threadline_tools.local", "--port", "0", "--api-key", key]
    command.append("--allow-loopback-webhooks")
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while READY_LINE not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield json.loads(state_file.read_text())["api_url"], key
    finally:
        process.terminate()
        process.wait(timeout=30)


class Watch:
    """Reads one run's events by the log and by its stream, noting when each was first seen."""

    def __init__(self, api: str, key: str, run_id: str) -> None:
        self._api, self._run_id = api, run_id
        self._headers = {"Authorization": f"Bearer {key}"}
        self.in_log: dict[str, float] = {}
        self.on_stream: dict[str, float] = {}
        self.created: dict[str, str] = {}
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._poll, daemon=True), threading.Thread(target=self._follow)]
        for thread in self._threads:
            thread.start()

    def _poll(self) -> None:
        after: str | None = None
        while not self._done.is_set():
            query: dict[str, str] = {"run_id": self._run_id, "limit": "100", **({"after": after} if after else {})}
            page = requests.get(f"{self._api}/v1/events", params=query, headers=self._headers, timeout=10).json()
            now = time.time()
            for event in page["data"]:
                self.in_log.setdefault(event["id"], now)
                self.created[event["id"]] = event["created_at"]
                after = event["id"]
                if event["type"] in ("run.completed", "run.cancelled"):
                    self._done.set()
            time.sleep(POLL_SECONDS)

    def _follow(self) -> None:
        last: str | None = None
        while True:
            headers = {**self._headers, "Accept": "text/event-stream", **({"Last-Event-ID": last} if last else {})}
            url = f"{self._api}/v1/runs/{self._run_id}/stream"
            with requests.get(url, headers=headers, stream=True, timeout=60) as reply:
                if reply.status_code == 204:
                    return
                reply.raise_for_status()
                for raw in reply.iter_lines():
                    line = raw.decode()
                    if line.startswith("id:"):
                        last = line[3:].strip()
                        self.on_stream.setdefault(last.split(":")[0], time.time())

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)
        self._done.set()


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measure(runs: int) -> dict[str, Any]:
    """Run ``runs`` agent runs on the local server and collect every event's latencies."""
    receiver = Receiver()
    try:
        with tempfile.TemporaryDirectory() as workdir, local_server(Path(workdir)) as (api, key):
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            endpoint = {"url": receiver.url, "description": "latency benchmark"}
            reply = requests.post(f"{api}/v1/webhook_endpoints", json=endpoint, headers=headers, timeout=10)
            reply.raise_for_status()
            sample = json.loads(json.loads((ROOT / "events" / "put_context.json").read_text())["body"])
            watches: list[Watch] = []
            for number in range(runs + 1):  # the first warms up (each function's first call): not counted
                business = f"biz-{number}"
                requests.put(f"{api}/v1/contexts/business/{business}", json=sample, headers=headers, timeout=10)
                body = {"type": "cip_orchestrator", "business_id": business}
                created = requests.post(f"{api}/v1/runs", json=body, headers=headers, timeout=10)
                created.raise_for_status()
                watches.append(Watch(api, key, created.json()["id"]))
                watches[-1].join(timeout=60)
            watches = watches[1:]
            deadline = time.monotonic() + 10  # the last deliveries
            wanted = {event_id for watch in watches for event_id in watch.created}
            while not wanted <= set(receiver.arrived) and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        receiver.close()
    rows = []
    for watch in watches:
        for event_id, created_at in watch.created.items():
            changed = parse_time(created_at).timestamp()
            rows.append(
                {
                    "event": event_id,
                    "log_seconds": round(watch.in_log[event_id] - changed, 3),
                    "stream_seconds": _seconds(watch.on_stream.get(event_id), changed),
                    "webhook_seconds": _seconds(receiver.arrived.get(event_id), changed),
                }
            )
    return {"runs": runs, "events": len(rows), "rows": rows, "summary": summary(rows)}


def _seconds(seen: float | None, changed: float) -> float | None:
    return None if seen is None else round(seen - changed, 3)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """p50, p95 and max per way of reading, and how many events it never showed."""
    found: dict[str, Any] = {}
    for way in ("log", "stream", "webhook"):
        values = [row[f"{way}_seconds"] for row in rows if row[f"{way}_seconds"] is not None]
        found[way] = {
            "p50": round(statistics.median(values), 3) if values else None,
            "p95": round(percentile(values, 0.95), 3) if values else None,
            "max": round(max(values), 3) if values else None,
            "missing": len(rows) - len(values),
        }
    return found


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m threadline_tools.bench_events", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="agent runs (default 5)")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    print(f"events readable after their change, local server, {result['runs']} runs, {result['events']} events")
    print(f"{'read by':<10}{'p50 s':>8}{'p95 s':>8}{'max s':>8}{'missing':>9}   target p95 <= {TARGET_SECONDS} s")
    for way, figures in result["summary"].items():
        cells = [f"{figures[k]:>8.3f}" if figures[k] is not None else f"{'-':>8}" for k in ("p50", "p95", "max")]
        met = figures["p95"] is not None and figures["p95"] <= TARGET_SECONDS and not figures["missing"]
        print(f"{way:<10}{''.join(cells)}{figures['missing']:>9}   {'met' if met else 'NOT MET'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "events.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"rows: {(RESULTS / 'events.json').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
