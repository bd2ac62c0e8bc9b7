"""Workflow costs per thread: state transitions, DynamoDB writes and Lambda
invocations of the agent workflow, per sample business, read from each
execution's history on moto (counted, not timed: they are what AWS bills)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

from threadline_tools.bench_moto import MOTO_CONFIG
from threadline_tools.template import ROOT

SAMPLES = ("clean", "incomplete", "suspicious", "sanctioned")


def workflow_costs() -> dict[str, Any]:
    """Run one cip_orchestrator thread per sample business and count what its execution did."""
    from moto import mock_aws
    from threadline import clients, wiring
    from threadline.auth.api_keys import generate_key, hash_key
    from threadline.models.api_keys import ApiKeyRecord
    from threadline.store.api_keys import ApiKeyStore
    from threadline.timeutil import now_iso

    from threadline_tools.gateway import Gateway
    from threadline_tools.lambda_bridge import bridged, patched_moto
    from threadline_tools.provision import provision

    with mock_aws(config=MOTO_CONFIG), patched_moto():
        deployment = provision("bench-workflow")
        os.environ.update(deployment.environment())
        wiring.reset()
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
        wiring.reset()
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
    from threadline import clients

    sfn = clients.stepfunctions()
    arn = deployment.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{thread_id}"
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    kinds = Counter(e["type"] for e in events)
    resources = Counter(e["taskScheduledEventDetails"]["resource"] for e in events if "taskScheduledEventDetails" in e)
    writes = sum(n for resource, n in resources.items() if resource in ("putItem", "updateItem"))
    # A step's start is one transaction of two item writes (each billed twice, as transactions are)
    writes += sum(
        len(json.loads(e["taskScheduledEventDetails"]["parameters"]).get("TransactItems", []))
        for e in events
        if e.get("taskScheduledEventDetails", {}).get("resource") == "transactWriteItems"
    )
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
