"""Benchmark: cold start of every function, and DynamoDB cost per request.

``python -m threadline_tools.bench [--runs 7] [--json]``; the workflow part alone, quickly (~15 s):
``python -m threadline_tools.bench --only-workflow``.

The parts, one module each:

- ``bench_coldstart``: the cold start of every function in a fresh, Lambda-like
  interpreter, against the floor ``import boto3; boto3.client("dynamodb")``;
- ``bench_dynamodb``: the DynamoDB, KMS and Step Functions calls of each request
  on a seeded table (``bench_seed`` seeds it, ``bench_calls`` counts the calls);
- ``bench_workflow``: state transitions, DynamoDB write requests and units, Lambda calls and the
  price of 1,000 runs, per sample business (rows also in ``.threadline/bench/workflow.json``);
- ``bench_moto``: the emulated AWS they run on; ``bench_report``: the text report.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from contextlib import redirect_stdout
from typing import Any

from threadline_tools.bench_coldstart import cold_start
from threadline_tools.bench_dynamodb import dynamodb_costs
from threadline_tools.bench_moto import aws_sandbox
from threadline_tools.bench_report import render, render_workflow, versions
from threadline_tools.bench_workflow import workflow_costs
from threadline_tools.template import ROOT, resources

RESULTS = ROOT / ".threadline" / "bench"


def _report_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
        raise argparse.ArgumentTypeError("letters, digits, '.', '_' and '-' only")
    return value


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m threadline_tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per function (median); default 7")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--threads", type=int, default=200, help="threads seeded for the DynamoDB part")
    parser.add_argument("--function", action="append", help="only this function (repeatable)")
    parser.add_argument("--no-first-request", action="store_true", help="time imports only")
    parser.add_argument("--no-layer-pyc", action="store_true", help="simulate a layer shipped without .pyc files")
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--skip-dynamodb", action="store_true")
    parser.add_argument("--skip-workflow", action="store_true")
    parser.add_argument(
        "--only-workflow",
        action="store_true",
        help="the workflow part alone (as --skip-cold-start --skip-dynamodb), its rows to workflow.json only"
        " unless --name is given",
    )
    parser.add_argument(
        "--name",
        type=_report_name,
        help=f"write the report to {RESULTS.relative_to(ROOT)}/NAME.json (default bench)",
    )
    args = parser.parse_args(argv)
    if args.only_workflow:
        if args.skip_workflow:
            parser.error("--only-workflow and --skip-workflow exclude each other")
        args.skip_cold_start = args.skip_dynamodb = True

    def progress(message: str) -> None:
        print(f"… {message}", file=sys.stderr, flush=True)

    started = time.monotonic()
    report: dict[str, Any] = {"versions": versions()}
    if args.function:
        unknown = set(args.function) - set(resources("AWS::Serverless::Function"))
        if unknown:
            parser.error(f"no such function in template.yaml: {', '.join(sorted(unknown))}")
    if not args.skip_cold_start:
        report["cold_start"] = cold_start(
            runs=args.runs,
            first_request=not args.no_first_request,
            layer_pyc=not args.no_layer_pyc,
            functions=args.function,
            progress=progress,
        )
    if not args.skip_dynamodb:
        report["dynamodb"] = dynamodb_costs(threads=args.threads, progress=progress)
    if not args.skip_workflow:
        progress("workflow: one thread per sample business")
        with aws_sandbox(), redirect_stdout(sys.stderr):
            report["workflow"] = workflow_costs()
        RESULTS.mkdir(parents=True, exist_ok=True)
        rows = RESULTS / "workflow.json"
        rows.write_text(json.dumps(report["workflow"], indent=2) + "\n")
        progress(f"workflow rows written to {rows.relative_to(ROOT)}")
    report["seconds"] = round(time.monotonic() - started, 1)
    if args.name or not args.only_workflow:  # (--only-workflow leaves the last full report be)
        RESULTS.mkdir(parents=True, exist_ok=True)
        saved = RESULTS / f"{args.name or 'bench'}.json"
        saved.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        progress(f"report written to {saved.relative_to(ROOT)}")
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        sys.stdout.write(render(report))
        if "workflow" in report:
            sys.stdout.write(render_workflow(report["workflow"]))
        print(f"({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
