"""Schemathesis against the local server: every operation of the OpenAPI document generated
from the handlers (so a new route is fuzzed as soon as it exists), in every phase (schema
examples, coverage of each parameter's edge cases, random fuzzing, stateful sequences), valid
and invalid data, within a time budget. No request may get a 5xx, a status the document does
not list, or a body or content type other than the document's.

The counts (requests, statuses, 5xx, failures by kind) are printed and written to
``.threadline/bench/fuzz.json``. ``THREADLINE_FUZZ_SECONDS`` and ``THREADLINE_FUZZ_SEED``
change the budget (default 60 s) and the seed (default fixed, so a failure reproduces).
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from threadline_tools import openapi
from threadline_tools.template import ROOT

from tests.e2e.conftest import BUSINESS, Server, running_server

pytestmark = pytest.mark.e2e

BUDGET_SECONDS = int(os.environ.get("THREADLINE_FUZZ_SECONDS", "60"))
SEED = int(os.environ.get("THREADLINE_FUZZ_SEED", "20240115"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance")
RESULTS = ROOT / ".threadline" / "bench" / "fuzz.json"
# The business the create request's documented example names (CreateThreadRequest), stored before
# the run so that the example, and what the fuzzer derives from it, create real threads.
EXAMPLE_BUSINESS = "biz_123"
# Schemathesis's names of the failures each count adds up.
SCHEMA_VIOLATIONS = {"JsonSchemaError", "MalformedJson", "ContentDeserializationError"}
UNDOCUMENTED_STATUSES = {"UndefinedStatusCode"}
CONTENT_TYPE_FAILURES = {"MissingContentType", "UndefinedContentType", "MalformedMediaType"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("fuzz-server")) as running:
        yield running


def test_every_operation_survives_fuzzing(server: Server, tmp_path: Path) -> None:
    # Given the OpenAPI document as generated from the handlers now, and the business its create
    # example names
    document = openapi.generate()
    schema = tmp_path / "openapi.json"
    schema.write_text(openapi.render(document), encoding="utf-8")
    stored = server.call("PUT", f"/v1/contexts/business/{EXAMPLE_BUSINESS}", json=BUSINESS, timeout=30)
    assert stored.status_code in (200, 201), stored.text

    # When schemathesis runs every operation against the local server, with the server's key
    reports = tmp_path / "reports"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(schema),
        "--url",
        server.url,
        "--header",
        f"Authorization: Bearer {server.key}",
        "--checks",
        ",".join(CHECKS),
        "--max-time",
        str(BUDGET_SECONDS),
        "--max-examples",
        "50",
        "--seed",
        str(SEED),
        "--workers",
        "1",  # one thread: CPython 3.11's parser is not safe for hypothesis' concurrent source reads
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--report",
        "json,har",
        "--report-dir",
        str(reports),
        "--no-color",
    ]
    started = time.monotonic()
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=BUDGET_SECONDS + 240)
    elapsed = time.monotonic() - started
    assert list(reports.glob("json-*.json")), f"schemathesis did not run:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    report = json.loads(next(reports.glob("json-*.json")).read_text())
    exchanges = json.loads(next(reports.glob("har-*.json")).read_text())["log"]["entries"]

    # Then: counted, recorded, and clean
    counts = _counts(document, report, exchanges, server.log.read_text(), elapsed)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(counts, indent=2) + "\n")
    print(
        f"\nfuzz: {counts['operations']} operations, {counts['requests']} requests in {counts['seconds']} s "
        f"(seed {SEED}): {counts['server_errors']} 5xx, {counts['schema_violations']} schema violations, "
        f"{counts['undocumented_statuses']} undocumented statuses, {counts['content_type_failures']} content-type "
        f"failures, {counts['network_errors']} network errors; statuses {counts['statuses']}"
    )
    summary = _report(run.stdout)
    assert counts["operations_tested"] == counts["operations"], summary
    assert counts["server_errors"] == 0, summary
    assert counts["schema_violations"] == 0, summary
    assert counts["undocumented_statuses"] == 0, summary
    assert counts["content_type_failures"] == 0, summary
    assert counts["other_failures"] == [], summary
    assert counts["network_errors"] == 0, summary
    assert [error for error in report["errors"] if error["title"] != "Network Error"] == [], summary
    assert counts["unhandled_errors_logged"] == 0, summary


def _counts(
    document: dict[str, Any], report: dict[str, Any], exchanges: list[dict[str, Any]], log: str, elapsed: float
) -> dict[str, Any]:
    """What the run did and found: requests and statuses from the HAR file, failures (unique, by
    kind) from schemathesis's report, unexpected exceptions from the server's log."""
    statuses = collections.Counter(
        str(exchange["response"]["status"]) for exchange in exchanges if not _unanswered(exchange)
    )
    failures = {failure["type"]: failure["count"] for failure in report["failures"]}
    known = SCHEMA_VIOLATIONS | UNDOCUMENTED_STATUSES | CONTENT_TYPE_FAILURES | {"ServerError"}
    return {
        "schemathesis": report["schemathesis_version"],
        "seed": report["seed"],
        "seconds": round(elapsed, 1),
        "operations": sum(len(operations) for operations in document["paths"].values()),
        "operations_tested": report["operations"]["tested"],
        "phases": {name: phase["status"] for name, phase in report["phases"].items()},
        "test_cases": report["test_cases"]["generated"],
        "requests": len(exchanges),
        "statuses": dict(sorted(statuses.items())),
        "server_errors": sum(n for status, n in statuses.items() if int(status) >= 500),
        # No answer: the local server drops a request line over 64 KB (http.server's limit; API Gateway
        # answers 414 far sooner); any other is a failure.
        "network_errors": sum(1 for exchange in exchanges if _unanswered(exchange) and not _overlong(exchange)),
        "overlong_request_lines_dropped": sum(
            1 for exchange in exchanges if _unanswered(exchange) and _overlong(exchange)
        ),
        "schema_violations": sum(n for kind, n in failures.items() if kind in SCHEMA_VIOLATIONS),
        "undocumented_statuses": sum(n for kind, n in failures.items() if kind in UNDOCUMENTED_STATUSES),
        "content_type_failures": sum(n for kind, n in failures.items() if kind in CONTENT_TYPE_FAILURES),
        "other_failures": sorted(kind for kind in failures if kind not in known),
        "failures": report["failures"],
        "errors": report["errors"],
        "unhandled_errors_logged": log.count("unhandled error"),
    }


def _unanswered(exchange: dict[str, Any]) -> bool:
    return int(exchange["response"]["status"]) == 0


def _overlong(exchange: dict[str, Any]) -> bool:
    url = urlsplit(exchange["request"]["url"])
    return len(f"{exchange['request']['method']} {url.path}?{url.query} HTTP/1.1") > 65536


def _report(output: str, lines: int = 200, width: int = 300) -> str:
    """Schemathesis's failures and summary, lines cut short (its reproductions quote whole URLs)."""
    start = output.find("FAILURES")
    kept = output[start if start >= 0 else 0 :].splitlines()
    return "\n".join(line[:width] for line in kept[-lines:])
