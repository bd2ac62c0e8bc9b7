"""DynamoDB cost per request, counted on moto.

On moto in-process, with the template's tables, a seeded table
(200 threads across 2 orgs by default) and the in-process gateway (the
authorizer, then the route's handler), botocore event hooks on the process's
clients count the DynamoDB calls by operation, the items each read (``Count``
and ``ScannedCount`` of a Query/Scan, 1 per GetItem hit), and the KMS and Step
Functions calls of every request. moto's Query cost grows with the table, so
nothing of DynamoDB is timed: it is counted.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import asdict
from typing import Any

from threadline_tools.bench_calls import CallRecorder, Request, request_cost
from threadline_tools.bench_moto import MOTO_CONFIG, aws_sandbox
from threadline_tools.bench_seed import Seeded, seed


def dynamodb_costs(threads: int = 200, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """DynamoDB, KMS and Step Functions calls of each benchmark request on a seeded moto deployment."""
    from moto import mock_aws
    from threadline import clients, wiring

    from threadline_tools.gateway import Gateway
    from threadline_tools.lambda_bridge import bridged, patched_moto
    from threadline_tools.provision import provision
    from threadline_tools.streams import StreamPump

    # The handlers log to stdout (Powertools); keep stdout for the report.
    with aws_sandbox(), redirect_stdout(sys.stderr), mock_aws(config=MOTO_CONFIG), patched_moto():
        deployment = provision("bench")
        os.environ.update(deployment.environment())
        wiring.reset()
        with bridged(deployment.functions):
            try:
                if progress:
                    progress(f"DynamoDB: seeding {threads} threads")
                seeded = seed(deployment, threads)
                # The stream → indexer (metadata items, counters), delivered before each request
                # and outside its recording, as if the indexer had caught up.
                pump = StreamPump(deployment.threads_table)
                gateway = Gateway()
                recorder = CallRecorder()
                results = []
                for request in _requests(seeded, gateway):
                    headers = {"Authorization": f"Bearer {seeded.key}", "Content-Type": "application/json"}
                    query = dict(request.query)
                    if request.before is not None:
                        query.update(request.before())
                    pump.drain()
                    # A fresh cipher cache per request: KMS calls as a new container makes them.
                    wiring.thread_store.cache_clear()
                    wiring.user_data_cipher.cache_clear()
                    recorder.attach(clients.dynamodb(), clients.kms(), clients.stepfunctions())
                    body = json.dumps(request.body) if request.body is not None else None
                    with recorder.recording() as calls:
                        reply = gateway.request(request.method, request.path, headers, query, body)
                    results.append(request_cost(request, reply.status, calls, deployment.keys_table))
                    # A created thread's workflow runs on (its agent function shares these clients):
                    # let it finish so its calls are not counted against the next request.
                    _settle(deployment)
                _settle(deployment)
            finally:
                wiring.reset()
    return {
        "threads": threads,
        "orgs": 2,
        "requests": [asdict(r) for r in results],
    }


def _requests(seeded: Seeded, gateway: Any) -> list[Request]:
    limit = str(max(1, min(20, seeded.per_org // 3)))  # so that a second page exists

    def first_page_cursor() -> dict[str, list[str]]:
        headers = {"Authorization": f"Bearer {seeded.key}"}
        reply = gateway.request("GET", "/v1/threads", headers, {"limit": [limit]}, None)
        cursor = reply.json().get("next_cursor")
        return {"cursor": [cursor]} if cursor else {}

    create = {"type": "cip_orchestrator", "business_id": "biz-001", "metadata": {"tier": "gold"}, "user_data": "{}"}
    from threadline_tools.local import SAMPLE_BUSINESS as business

    return [
        Request("create thread", "POST", "/v1/threads", body=create),
        Request("get thread (3 steps)", "GET", f"/v1/threads/{seeded.get_id}"),
        Request("list (default)", "GET", "/v1/threads"),
        Request("list status=running", "GET", "/v1/threads", {"status": ["running"]}),
        Request("list business_id", "GET", "/v1/threads", {"business_id": [seeded.business_id]}),
        Request("list metadata filter", "GET", "/v1/threads", {"metadata": ['{"tier": "gold"}']}),
        Request("list page=5 per_page=20", "GET", "/v1/threads", {"page": ["5"], "per_page": ["20"]}),
        Request(
            f"list cursor, page 2 (limit={limit})", "GET", "/v1/threads", {"limit": [limit]}, before=first_page_cursor
        ),
        Request("Agentuity list", "GET", "/thread"),
        Request("Agentuity get", "GET", f"/thread/{seeded.agentuity_get_id}"),
        Request(
            "patch thread (metadata)", "PATCH", f"/v1/threads/{seeded.agentuity_get_id}", body={"metadata": {"x": 1}}
        ),
        Request("delete thread", "DELETE", f"/v1/threads/{seeded.delete_ids[0]}"),
        Request("Agentuity delete", "DELETE", f"/thread/{seeded.delete_ids[1]}"),
        Request("restore thread", "POST", f"/v1/threads/{seeded.delete_ids[0]}/restore"),
        Request("put context (replace)", "PUT", f"/v1/contexts/business/{seeded.business_id}", body=business),
        Request("get context", "GET", f"/v1/contexts/business/{seeded.business_id}"),
        Request("delete context", "DELETE", "/v1/contexts/business/biz-delete"),
        Request("list agents", "GET", "/v1/agents"),
    ]


def _settle(deployment: Any, timeout: float = 10.0) -> None:
    """Let moto's background executions finish before the emulation goes away."""
    from threadline import clients

    deadline = time.monotonic() + timeout
    sfn = clients.stepfunctions()
    while time.monotonic() < deadline:
        found = sfn.list_executions(stateMachineArn=deployment.state_machine_arn)["executions"]
        if all(e["status"] != "RUNNING" for e in found):
            return
        time.sleep(0.05)
