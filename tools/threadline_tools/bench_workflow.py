"""Workflow costs per thread: state transitions, DynamoDB writes and Lambda
invocations of the agent workflow, per sample business, read from each
execution's history on moto (counted, not timed: they are what AWS bills)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

from threadline_tools.template import ROOT

SAMPLES = ("clean", "incomplete", "suspicious", "sanctioned")


def workflow_costs() -> dict[str, Any]:
    """Run one cip_orchestrator thread per sample business and count what its execution did."""
    from moto import mock_aws
    from threadline.auth.api_keys import ApiKeyRecord, generate_key, hash_key
    from threadline.store import clients, factory
    from threadline.store.api_keys import ApiKeyStore
    from threadline.timeutil import now_iso

    from threadline_tools.gateway import Gateway
    from threadline_tools.lambda_bridge import bridged, patched_moto
    from threadline_tools.provision import provision

    config: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config), patched_moto():
        deployment = provision("bench-workflow")
        os.environ.update(deployment.environment())
        factory.reset()
        with bridged(deployment.functions):
            key_id, key = generate_key()
            ApiKeyStore(clients.dynamodb(), deployment.keys_table).put(
                ApiKeyRecord(hash_key(key), key_id, "bench", "bench", ("read", "write"), now_iso())
            )
            gateway = Gateway()
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            rows = []
            for sample in SAMPLES:
                document = (ROOT / "events" / "businesses" / f"{sample}.json").read_text()
                gateway.request("PUT", f"/v1/contexts/business/{sample}", headers, {}, document)
                body = json.dumps({"type": "cip_orchestrator", "business_id": sample})
                thread = gateway.request("POST", "/v1/threads", headers, {}, body).json()
                status = _wait(gateway, headers, thread["id"])
                if status == "interrupted":
                    step = next(s for s in _thread(gateway, headers, thread["id"])["steps"] if s["status"] == "waiting")
                    resolve = json.dumps({"decision": "approve"})
                    path = f"/v1/threads/{thread['id']}/steps/{step['id']}/resolve"
                    gateway.request("POST", path, headers, {}, resolve)
                    status = _wait(gateway, headers, thread["id"])
                rows.append(_count(deployment, thread["id"], sample, status, _thread(gateway, headers, thread["id"])))
        factory.reset()
    return {"threads": rows}


def _thread(gateway: Any, headers: dict[str, str], thread_id: str) -> dict[str, Any]:
    reply: dict[str, Any] = gateway.request("GET", f"/v1/threads/{thread_id}", headers, {}, None).json()
    return reply


def _wait(gateway: Any, headers: dict[str, str], thread_id: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status: str = _thread(gateway, headers, thread_id)["status"]
        if status != "running" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def _count(deployment: Any, thread_id: str, sample: str, status: str, thread: dict[str, Any]) -> dict[str, Any]:
    from threadline.store import clients

    sfn = clients.stepfunctions()
    arn = deployment.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{thread_id}"
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    kinds = Counter(e["type"] for e in events)
    resources = Counter(e["taskScheduledEventDetails"]["resource"] for e in events if "taskScheduledEventDetails" in e)
    writes = sum(n for resource, n in resources.items() if resource in ("putItem", "updateItem"))
    lambdas = sum(n for resource, n in resources.items() if resource.startswith("invoke"))
    steps = len(thread["steps"])
    decision = next(
        (a["content"]["decision"] for s in thread["steps"] if s["name"] == "decision" for a in s["artifacts"]),
        None,
    )
    return {
        "sample": sample,
        "thread_status": status,
        "decision": decision,
        "steps": steps,
        "state_transitions": kinds["TaskStateEntered"]
        + kinds["PassStateEntered"]
        + kinds["ChoiceStateEntered"]
        + kinds["MapStateEntered"]
        + kinds["SucceedStateEntered"]
        + kinds["FailStateEntered"],
        "dynamodb_writes": writes,
        "lambda_invocations": lambdas,
        "writes_per_step": round(writes / steps, 2) if steps else None,
    }


def render(report: dict[str, Any]) -> str:
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
