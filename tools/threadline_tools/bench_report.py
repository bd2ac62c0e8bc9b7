"""The benchmark report as text: versions, the cold start table and its verdict,
the DynamoDB cost per request, and the workflow costs per run with the issue's targets."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

ROUTE_TARGET = 1.4  # every route function's import ≤ 1.4 x the floor


def versions() -> dict[str, str]:
    """Python's and the measured libraries' versions, for the report's header."""
    found = {"python": platform.python_version()}
    for name in ("boto3", "botocore", "aws-lambda-powertools", "pydantic", "moto"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "?"
    return found


def _ops(counts: dict[str, int]) -> str:
    return ", ".join(f"{op}x{n}" if n > 1 else op for op, n in counts.items()) or "-"


def render(report: dict[str, Any]) -> str:
    """The report as text."""
    v = report["versions"]
    lines = [
        "Threadline benchmark",
        f"python {v['python']}, boto3 {v['boto3']}, botocore {v['botocore']}, "
        f"powertools {v['aws-lambda-powertools']}, pydantic {v['pydantic']}, moto {v['moto']}",
    ]
    cold = report.get("cold_start")
    if cold:
        first = cold["first_request"]
        lines += [
            "",
            f"Cold start: handler module import in a fresh interpreter, Lambda-style sys.path "
            f"(CodeUri, layer, runtime){'' if cold['layer_pyc'] else ', layer WITHOUT .pyc'}; "
            f"median of {cold['runs']} runs, each paired with a floor run",
            f'floor = import boto3; boto3.client("dynamodb"): {cold["floor_ms"]:.0f} ms'
            + (f"   (+ one GetItem: {cold['floor_first_ms']:.0f} ms)" if first else ""),
            "",
        ]
        header = f"{'function':32} {'kind':10} {'import':>8} {'x floor':>8}"
        if first:
            header += f"  {'import + 1st request':>21} {'x floor':>8}  {'status':>6}"
        header += f"  {'clients at import':>17}"
        lines += [header, "-" * len(header)]
        for f in cold["functions"]:
            row = f"{f['function']:32} {f['kind']:10} {f['import_ms']:>5.0f} ms {f['ratio']:>7.2f}x"
            if first:
                row += f"  {f['first_ms']:>18.0f} ms {f['first_ratio']:>7.2f}x  {f['status']!s:>6}"
            row += f"  {f['clients_at_import']:>17}"
            lines.append(row)
        lines += ["", _verdict(cold["functions"])]
        if first:
            lines.append(
                "1st request: answered against a moto server on localhost (threads with user_data: KMS and "
                "cryptography are on the path); its floor is the floor plus one GetItem."
            )
    costs = report.get("dynamodb")
    if costs:
        lines += [
            "",
            f"DynamoDB per request: moto in-process, {costs['threads']} threads across {costs['orgs']} orgs, "
            "through the gateway (authorizer, then handler); counted, not timed",
            "",
        ]
        header = (
            f"{'request':32} {'status':>6}  {'DynamoDB calls (route)':24} {'items read':>10} {'returned':>8}  "
            f"{'authorizer':12} {'KMS':18} {'Step Functions':14}"
        )
        lines += [header, "-" * len(header)]
        for r in costs["requests"]:
            lines.append(
                f"{r['request']:32} {r['status']:>6}  {_ops(r['dynamodb']):24} {r['items_read']:>10} "
                f"{r['items_returned']:>8}  {_ops(r['authorizer']):12} {_ops(r['kms']):18} "
                f"{_ops(r['stepfunctions']):14}"
            )
        lines += ["", "Calls in detail (route's DynamoDB calls: index, read/returned):"]
        for r in costs["requests"]:
            details = [
                c["operation"]
                + (f"[{c['index']}]" if c["index"] else "")
                + (" COUNT" if c["select"] == "COUNT" else "")
                + (f" {c['read']}/{c['returned']}" if c["operation"] in ("Query", "Scan") else "")
                + (f" ({c['error']})" if c["error"] else "")
                for c in r["calls"]
                if c["service"] == "dynamodb" and c["role"] == "route"
            ]
            lines.append(f"  {r['request']:32} {'; '.join(details) or '-'}")
        lines += [
            "",
            "items read: Query/Scan ScannedCount (what DynamoDB evaluated, before any FilterExpression), "
            "1 per GetItem hit; returned: Count. The authorizer runs on every request here; API Gateway "
            "caches its answer per key (AuthorizerCacheSeconds). KMS with a fresh data-key cache per request.",
        ]
    return "\n".join(lines) + "\n"


def _verdict(functions: list[dict[str, Any]]) -> str:
    routes_ = [f for f in functions if f["kind"] == "route"]
    worst = max(routes_, key=lambda f: f["ratio"], default=None)
    authorizer = next((f for f in functions if f["kind"] == "authorizer"), None)
    parts = []
    if worst is not None:
        ok = "OK" if worst["ratio"] <= ROUTE_TARGET else "OVER TARGET"
        parts.append(
            f"target: route functions ≤ {ROUTE_TARGET}x floor: worst {worst['function']} {worst['ratio']:.2f}x — {ok}"
        )
    if authorizer is not None:
        parts.append(f"authorizer {authorizer['ratio']:.2f}x (target ≈ 1.0x or below)")
    clients = [f["function"] for f in functions if f["clients_at_import"]]
    parts.append(f"clients created at import: {', '.join(clients) if clients else 'none'}")
    return "; ".join(parts)


def render_workflow(report: dict[str, Any]) -> str:
    """The workflow section of the benchmark report: a row per run, the issue's targets, the
    price assumptions."""
    columns = [
        "sample",
        "policy",
        "thread",
        "decision",
        "steps",
        "transitions",
        "/step",
        "write req",
        "/step",
        "write units",
        "GSI units",
        "Lambda",
        "$/1000 Std",
        "$/1000 Expr",
    ]
    lines = [
        [
            row["sample"],
            row.get("interrupt_policy", "manual"),
            row["thread_status"],
            row["decision"] or "-",
            str(row["steps"]),
            str(row["transitions"]),
            _figure(row["transitions_per_step"]),
            str(row["write_requests"]),
            _figure(row["write_requests_per_step"]),
            str(row["write_units"]),
            str(row.get("index_write_units", "-")),
            str(row["lambda_invocations"]),
            _usd(row["usd_per_1000_standard"]),
            _usd(row["usd_per_1000_express"]),
        ]
        for row in report["rows"]
    ]
    text = [
        "",
        "Workflow per run: cip_orchestrator on each sample business, run on moto (a review is resolved"
        " 'approve'; auto_approve: as an Express workflow would run it); counted, not timed",
        "",
        _table(columns, lines),
        "",
        "transitions: *StateEntered events of the execution history (what Standard bills); write req: DynamoDB"
        " write requests of the state machine's integrations (history) + the agent function's calls (botocore"
        " hooks, API handlers excluded); write units: on the table (GSI units: its indexes'); Lambda: agent"
        " invocations.",
        "",
        "targets (issue):",
        *(f"  {line}" for line in workflow_targets(report["rows"])),
        "",
        "prices and assumptions:",
        *(f"  {note}" for note in report.get("assumptions", {}).get("notes", [])),
    ]
    return "\n".join(text) + "\n"


def workflow_targets(rows: list[dict[str, Any]]) -> list[str]:
    """Each of the issue's workflow targets, with the figures it is held to (reported, not asserted)."""
    from threadline_tools.bench_workflow import (
        TARGET_TRANSITIONS_PER_STEP,
        TARGET_USD_PER_1000_CLEAN_STANDARD,
        TARGET_WRITE_REQUESTS_PER_STEP,
    )

    def per_step(key: str, target: float, label: str) -> str:
        figures = [(_run(r), r[key]) for r in rows if r[key] is not None]
        met = all(value <= target for _, value in figures)
        listed = ", ".join(f"{run} {value:g}" for run, value in figures)
        return f"{label} ≤ {target:g}: {listed} — {'met' if met else 'NOT MET'}"

    lines = [
        per_step("transitions_per_step", TARGET_TRANSITIONS_PER_STEP, "transitions per step (whole run)"),
        per_step(
            "step_record_write_requests_per_step",
            TARGET_WRITE_REQUESTS_PER_STEP,
            "write requests per step recorded (the run's end, 1 per run, apart)",
        ),
        per_step(
            "write_requests_per_step", TARGET_WRITE_REQUESTS_PER_STEP, "write requests per step (whole run, its end in)"
        ),
    ]
    clean = [r for r in rows if r["sample"] == "clean" and r.get("interrupt_policy", "manual") == "manual"]
    if clean:
        usd = clean[0]["usd_per_1000_standard"]
        target = TARGET_USD_PER_1000_CLEAN_STANDARD
        verdict = "met" if usd <= target else "NOT MET"
        lines.append(f"USD per 1,000 clean-path runs on Standard ≤ ${target:.2f}: ${usd:.4f} — {verdict}")
    return lines


def _run(row: dict[str, Any]) -> str:
    policy = row.get("interrupt_policy", "manual")
    return row["sample"] if policy == "manual" else f"{row['sample']} ({policy})"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def _table(columns: list[str], lines: list[list[str]], left: int = 4) -> str:
    """Columns padded to their widest cell: the first ``left`` aligned left, the rest right."""
    widths = [max(len(c), *(len(line[i]) for line in lines)) if lines else len(c) for i, c in enumerate(columns)]

    def fmt(cells: list[str]) -> str:
        padded = [
            cell.ljust(w) if i < left else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(columns), rule, *(fmt(line) for line in lines)])
