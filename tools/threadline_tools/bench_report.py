"""The benchmark report as text: versions, the cold start table and its verdict,
the DynamoDB cost per request, and the workflow costs per thread."""

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
    """The workflow section of the benchmark report."""
    lines = [
        "",
        "Workflow per thread: cip_orchestrator on each sample business (a review is resolved 'approve');"
        " counted from the execution history",
        "",
        f"{'sample':<12} {'thread':<11} {'decision':<9} {'steps':>5} {'transitions':>11}"
        f" {'DynamoDB writes':>15} {'per step':>8} {'Lambda calls':>12}",
        "-" * 90,
    ]
    for row in report["threads"]:
        lines.append(
            f"{row['sample']:<12} {row['thread_status']:<11} {row['decision'] or '-':<9} {row['steps']:>5}"
            f" {row['state_transitions']:>11} {row['dynamodb_writes']:>15} {row['writes_per_step'] or '-':>8}"
            f" {row['lambda_invocations']:>12}"
        )
    lines.append(
        "State transitions are what a Standard workflow bills; DynamoDB writes are the state machine's own"
        " (service integrations), excluding the agent function's interrupt bookkeeping."
    )
    return "\n".join(lines) + "\n"
