"""Least privilege, held to the code as it runs (issue 11, item 8): every function of template.yaml
is driven through the emulation once (API routes through the gateway, the state machine's agent
task, the stream and queue mappings, the reconciler), every AWS call it makes is recorded
(``threadline_tools.permissions``: a botocore hook, attributed by the invocation running on the
thread), and its ``Policies`` statements must

* allow every call (the IAM actions it needs, on the table, index, queue, key, state machine or
  execution it hit, under the statement's conditions): a new call without a policy fails;
* be used, every action and every resource of them, by some call: a policy without a call fails,
  unless ``ALLOWANCES`` says why the code cannot show it.

The state machine's role is held the same way to the tasks of its definition. The scenario runs
once, for the one test (a test per function would run it again on each pytest-xdist worker).
A failing check names the function, the action and the resource; set THREADLINE_LP_DUMP to a
path to get every recorded call with its parameters.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import threadline_agents.cip
from threadline import clients, wiring
from threadline.models.agent_types import AgentType, Condition, StepDefinition
from threadline.models.workflow import AgentInput, AgentResult
from threadline.store import keys as store_keys
from threadline.store.items import serialize
from threadline.workflow import agent_types as registry
from threadline_tools import gateway
from threadline_tools.gateway import Gateway
from threadline_tools.permissions import Call, Emulation, Finding, Recorder, audit, workflow_calls
from threadline_tools.provision import Deployment
from threadline_tools.template import ROOT, resources

from tests.conftest import (
    Api,
    Keys,
    business_document,
    deliver_webhooks,
    deployed,
    drain,
    drain_events,
    put_business,
    raw_thread_item,
    reconcile,
    settle,
    wait_for_thread,
)
from tests.integration.test_faults import failing

FUNCTIONS = sorted(resources("AWS::Serverless::Function"))

# Short agent types (two steps, where the CIP has six): every path of the agent function and the
# state machine, for a fraction of the CIP's run time. A person reviews every run of one; the
# other's review is told at once that its condition does not hold (the agent function's send_skip).
REVIEWED = AgentType(
    name="audit_reviewed",
    description="Checks the business record, then waits for a person.",
    context_types=("business",),
    steps=(
        StepDefinition("business_record", "Business record completeness", agent="cip.business_record"),
        StepDefinition("human_review", "Human review", agent="human", type="interrupt", parent="business_record"),
    ),
)
UNREVIEWED = AgentType(
    name="audit_unreviewed",
    description="Checks the business record; its review's condition never holds.",
    context_types=("business",),
    steps=(
        REVIEWED.steps[0],
        StepDefinition(
            "human_review",
            "Human review",
            agent="human",
            type="interrupt",
            parent="business_record",
            when=Condition(step="business_record", key="no_such_output", equals=True),
        ),
    ),
)

# Parts of a policy no call in the emulation can show, each with its reason: (function, the action
# or the resource as the template writes it) → why. Keep it short; prefer driving the path (the
# scenario injects faults for the error paths: tests/integration/test_faults.py's ``failing``).
_LOG_DELIVERY = (
    "CreateLogDelivery",
    "GetLogDelivery",
    "UpdateLogDelivery",
    "DeleteLogDelivery",
    "ListLogDeliveries",
    "PutResourcePolicy",
    "DescribeResourcePolicies",
    "DescribeLogGroups",
)
ALLOWANCES: dict[tuple[str, str], str] = {
    **{
        ("AgentWorkflow", f"logs:{action}"): "Step Functions' own delivery of the state machine's logs (its"
        " Logging configuration, to AgentWorkflowLogs) signs with the role; no task calls it"
        for action in _LOG_DELIVERY
    },
    **{
        ("AgentWorkflow", f"xray:{action}"): "Step Functions' own tracing of the workflow (Tracing, with"
        " EnableTracing) signs with the role; no task calls it"
        for action in ("PutTraceSegments", "PutTelemetryRecords", "GetSamplingRules", "GetSamplingTargets")
    },
    ("AgentWorkflow", "dynamodb:PutItem"): "executions started before runs run their own, older definition"
    " to its end, whose step start puts the step (template.yaml; docs/deploy.md, Upgrading to runs)",
}


@dataclass
class Recorded:
    """What the scenario recorded."""

    emulation: Emulation
    calls: dict[str, list[Call]]
    invocations: dict[str, int]


# ----- the scenario -----------------------------------------------------------------------------


def _forget_warm_state() -> None:
    """What a warm Lambda environment keeps and so calls AWS for only once (the cipher's data keys
    and unwrapped keys): the emulation's functions share one process, so one function's warm cache
    would hide another's first call. Each invocation starts without it, as a cold start would."""
    cipher = wiring.user_data_cipher()
    with cipher._lock:
        cipher._data_keys.clear()
        cipher._unwrapped.clear()


@pytest.fixture(scope="module")
def recorded() -> Iterator[Recorded]:
    recorder = Recorder()
    original = gateway.Environments.invoke

    def invoke(self: gateway.Environments, logical_id: str, event: dict[str, Any], context: Any) -> Any:
        recorder.count(logical_id)
        _forget_warm_state()
        return original(self, logical_id, event, context)

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "STREAM_WINDOW_SECONDS": "0.2",  # a run's stream answers at once
            "THREADLINE_WEBHOOKS_ALLOW_LOOPBACK": "1",
            "THREADLINE_WEBHOOK_RETRY_SCALE": "0",
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        patch.setattr(gateway.Environments, "invoke", invoke)
        for agent in (REVIEWED, UNREVIEWED):
            patch.setitem(registry.AGENT_TYPES, agent.name, agent)
        # (installed first: deployed() resets the layer's clients, so they are built on a hooked session)
        with recorder.installed(), deployed(patch) as deployment:
            _scenario(deployment)
            settle(deployment)
    by_function: dict[str, list[Call]] = {}
    for call in recorder.calls:
        by_function.setdefault(call.function, []).append(call)
    if os.environ.get("THREADLINE_LP_DUMP"):  # what was recorded, to read when a check fails
        dump = [{"function": c.function, "operation": c.operation, "params": c.params} for c in recorder.calls]
        Path(os.environ["THREADLINE_LP_DUMP"]).write_text(json.dumps(dump, default=str, indent=1))
    yield Recorded(Emulation(deployment), by_function, dict(recorder.invocations))


def _scenario(deployment: Deployment) -> None:
    keys = Keys(deployment)
    api = Api(Gateway(before_request=drain), keys.create())
    sfn, dynamodb = clients.stepfunctions(), clients.dynamodb()

    # Contexts: put (with an Idempotency-Key, then its replay), get, delete; the agents; a 405
    put_business(api, "biz-clean", document=business_document("clean"))
    document = business_document("clean")
    for _ in range(2):
        reply = api.call("PUT", "/v1/contexts/business/biz-gone", body=document, headers={"Idempotency-Key": "ctx-1"})
        assert reply.status in (200, 201), reply.body
    assert api.call("GET", "/v1/contexts/business/biz-gone").status == 200
    assert api.call("DELETE", "/v1/contexts/business/biz-gone").status in (200, 204)
    assert api.call("GET", "/v1/agents").status == 200
    assert api.call("PUT", "/v1/threads").status == 405

    # Threads: one that completes (its Idempotency-Key replayed), two that wait for a person
    first = api.call("POST", "/v1/threads", body=_new(UNREVIEWED), headers={"Idempotency-Key": "thread-1"})
    assert first.status == 201, first.body
    again = api.call("POST", "/v1/threads", body=_new(UNREVIEWED), headers={"Idempotency-Key": "thread-1"})
    assert again.status == 201, again.body
    done = first.json()["id"]
    reviewed = [_created(api, REVIEWED) for _ in range(2)]
    wait_for_thread(api, deployment, done, "completed")

    # Reads and changes of the finished thread, in both dialects
    assert api.call("GET", f"/v1/threads/{done}").status == 200
    assert api.call("GET", f"/v1/threads/{done}/steps").status == 200
    assert api.call("GET", "/v1/threads").status == 200
    assert api.call("GET", "/v1/threads", query={"metadata": '{"k": "v"}'}).status == 200
    for change in ({"metadata": {"k": "w"}, "user_data": "changed"}, {"user_data": None}, {"user_data": "again"}):
        patched = api.call("PATCH", f"/v1/threads/{done}", body=change)
        assert patched.status == 200, patched.body
    assert api.call("GET", "/thread").status == 200
    assert api.call("GET", f"/thread/{done}").status == 200

    # Runs: a new run of the thread (its Idempotency-Key replayed), its reads, feedback, stream
    run_body = {"type": UNREVIEWED.name, "thread_id": done}
    run = api.call("POST", "/v1/runs", body=run_body, headers={"Idempotency-Key": "run-1"})
    assert run.status == 201, run.body
    assert api.call("POST", "/v1/runs", body=run_body, headers={"Idempotency-Key": "run-1"}).status == 201
    run_id = run.json()["id"]
    wait_for_thread(api, deployment, done, "completed")
    got = api.call("GET", f"/v1/runs/{run_id}")
    assert got.status == 200, got.body
    assert api.call("GET", "/v1/runs").status == 200
    assert api.call("GET", "/v1/runs", query={"thread_id": done}).status == 200
    step = got.json()["steps"][0]["id"]
    rated = api.call("POST", f"/v1/runs/{run_id}/feedback", body={"step_id": step, "rating": "positive"})
    assert rated.status in (200, 201), rated.body
    assert api.call("GET", f"/v1/runs/{run_id}/stream").status == 200

    # Decisions, on the threads waiting for a person: one whose sending fails (Step Functions is
    # asked whether the task still waits), then the decision; through the thread, and the run
    for thread_id, through_run in zip(reviewed, (False, True), strict=True):
        waiting = wait_for_thread(api, deployment, thread_id, "interrupted")
        review = next(s for s in waiting["steps"] if s["name"] == "human_review")
        if through_run:
            path = f"/v1/runs/{_run_of(deployment, thread_id)}/actions"
            decision = {"type": "decision", "interrupt_id": review["id"], "decision": "approve"}
        else:
            path, decision = f"/v1/threads/{thread_id}/steps/{review['id']}/resolve", {"decision": "approve"}
        with _decision_lost(sfn):
            assert api.call("POST", path, body=decision).status == 503
        decided = api.call("POST", path, body=decision)
        assert decided.status == 200, decided.body

    # Threads held at their first step (the agent waits): cancels of the thread and of its run and
    # deletes in both dialects commit (checking the steps not started are absent) and stop the
    # execution; one execution stopped from outside leaves its thread active for the reconciler
    entered, release = threading.Semaphore(0), threading.Event()
    record = threadline_agents.cip.business_record

    def held(agent_input: AgentInput) -> AgentResult:
        entered.release()
        release.wait(10)
        return record(agent_input)

    with pytest.MonkeyPatch.context() as local:
        local.setattr(threadline_agents.cip, "business_record", held)
        holding = [_created(api, REVIEWED) for _ in range(5)]
        for _ in holding:
            assert entered.acquire(timeout=10)
        cancels = ("/v1/threads/{id}/cancel", "/v1/runs/{run}/cancel", "/v1/threads/{id}", "/thread/{id}")
        for path, thread_id in zip(cancels, holding, strict=False):
            method = "POST" if path.endswith("cancel") else "DELETE"
            target = path.format(id=thread_id, run=_run_of(deployment, thread_id))
            reply = api.call(method, target, body={} if method == "POST" else None)
            assert reply.status == 200, (path, reply.body)
        sfn.stop_execution(executionArn=_execution_arn(deployment, holding[4]), cause="stopped by an operator")
        release.set()
        settle(deployment)
    assert api.call("POST", f"/v1/threads/{holding[2]}/restore").status == 200

    # A failing agent: the execution fails; the reconciler gets every execution's end
    def broken(agent_input: AgentInput) -> AgentResult:
        raise RuntimeError("the business registry is unreadable")

    with pytest.MonkeyPatch.context() as local:
        local.setattr(threadline_agents.cip, "business_record", broken)
        _created(api, UNREVIEWED)
        settle(deployment)
    assert reconcile(deployment) >= 5

    # Creates whose idempotency record's put is refused without the record (Powertools reads it),
    # and whose work then fails (the record is let go): starts whose answer was lost where Step
    # Functions cannot say whether they started (the functions look, then stop it), and a
    # context's write throttled
    idempotency, threads = deployment.idempotency_table, deployment.threads_table
    creates = (
        ("POST", "/v1/threads", _new(UNREVIEWED)),
        ("POST", "/v1/runs", run_body),
        ("PUT", "/v1/contexts/business/biz-lost", document),
    )
    for method, path, body in creates:
        with (
            failing(
                dynamodb,
                "PutItem",
                "ConditionalCheckFailedException",
                times=1,
                when=lambda p: p.get("TableName") == idempotency,
            ),
            failing(sfn, "StartExecution", "InternalFailure", status=500),
            failing(sfn, "DescribeExecution", "ThrottlingException"),
            failing(dynamodb, "UpdateItem", "ThrottlingException", when=lambda p: _is_context(p, threads)),
        ):
            reply = api.call(method, path, body=body, headers={"Idempotency-Key": f"lost-{path}"})
        assert reply.status == 503, (path, reply.body)

    # Purge: DynamoDB's TTL deletes a thread's header (the indexer and the event writer see it)
    dynamodb.delete_item(TableName=deployment.threads_table, Key=serialize(store_keys.thread_key("acme", done)))
    drain()

    # Events and webhooks: the log (the org's, a run's), an endpoint, fan-out and delivery, the
    # delivery log, redelivery (to every endpoint, to one), the endpoint's delete
    drain_events()
    events = api.call("GET", "/v1/events")
    assert events.status == 200, events.body
    event_id = events.json()["data"][0]["id"]
    assert api.call("GET", "/v1/events", query={"run_id": run_id}).status == 200
    receiver = _Receiver(500)  # the first delivery fails: the deliverer queues its retry
    endpoint = api.call("POST", "/v1/webhook_endpoints", body={"url": receiver.url})
    assert endpoint.status == 201, endpoint.body
    endpoint_id = endpoint.json()["id"]
    assert api.call("GET", "/v1/webhook_endpoints").status == 200
    assert api.call("PATCH", f"/v1/threads/{reviewed[0]}", body={"metadata": {"k": "x"}}).status == 200
    drain_events()
    assert deliver_webhooks() >= 1
    assert api.call("GET", f"/v1/webhook_endpoints/{endpoint_id}/deliveries").status == 200
    for body in (None, {"endpoint_id": endpoint_id}):
        assert api.call("POST", f"/v1/events/{event_id}/redeliver", body=body).status == 202
    deliver_webhooks()
    assert api.call("DELETE", f"/v1/webhook_endpoints/{endpoint_id}").status == 200
    receiver.stop()


def _is_context(params: dict[str, Any], table: str) -> bool:
    """Whether an UpdateItem's parameters write a context document."""
    key = params.get("Key", {}).get("pk", {}).get("S", "")
    return bool(params.get("TableName") == table and key.startswith("C#"))


def _new(agent: AgentType) -> dict[str, Any]:
    """A new thread's body, with user_data (which the thread's readers decrypt)."""
    return {"type": agent.name, "business_id": "biz-clean", "user_data": "private", "metadata": {"k": "v"}}


def _created(api: Api, agent: AgentType) -> str:
    reply = api.call("POST", "/v1/threads", body=_new(agent))
    assert reply.status == 201, reply.body
    return str(reply.json()["id"])


def _run_of(deployment: Deployment, thread_id: str) -> str:
    """A thread's current run (its execution's name)."""
    return str(raw_thread_item(deployment, "acme", thread_id)["execution_name"]["S"])


def _execution_arn(deployment: Deployment, thread_id: str) -> str:
    machine = deployment.state_machine_arn
    return f"{machine.replace(':stateMachine:', ':execution:', 1)}:{_run_of(deployment, thread_id)}"


@contextmanager
def _decision_lost(sfn: Any) -> Iterator[None]:
    """SendTaskSuccess fails as if carried out (a 500), and the heartbeat that asks whether the task
    still waits is throttled: the decision is given back to be sent again (a 503)."""
    with (
        failing(sfn, "SendTaskSuccess", "InternalFailure", status=500),
        failing(sfn, "SendTaskHeartbeat", "ThrottlingException"),
    ):
        yield


class _Receiver:
    """A webhook receiver on 127.0.0.1 answering ``statuses`` in turn, then 204."""

    def __init__(self, *statuses: int) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        answers = list(statuses)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(answers.pop(0) if answers else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ----- the checks -------------------------------------------------------------------------------
# One test over every function: the scenario is one run for the module, and under pytest-xdist's
# load distribution each worker given a test of the module would run it again.


def test_every_functions_policy_allows_its_calls_and_holds_nothing_else(recorded: Recorded) -> None:
    # Given what each function called while the scenario ran (every function ran)
    assert [f for f in FUNCTIONS if not recorded.invocations.get(f)] == [], "functions the scenario never ran"
    assert set(recorded.calls) <= set(FUNCTIONS)

    # Then each function's statements allow each of its calls, and each of their actions and
    # resources was used by one, or is in ALLOWANCES
    found = [f for function in FUNCTIONS for f in audit(recorded.emulation, function, recorded.calls.get(function, []))]
    # (and the state machine's role, over the calls its tasks make, read from its definition)
    found += audit(recorded.emulation, "AgentWorkflow", _workflow_calls(recorded.emulation.deployment))
    unexplained = [f for f in found if f.kind == "not allowed" or (f.function, f.what) not in ALLOWANCES]
    assert unexplained == [], _explain(unexplained, recorded)

    # And every allowance is still needed (a call now uses it, or the policy no longer has it: it goes)
    stale = set(ALLOWANCES) - {(f.function, f.what) for f in found}
    assert stale == set(), f"allowances no longer needed: {sorted(stale)}"


def _workflow_calls(deployment: Deployment) -> list[Call]:
    machine = resources("AWS::Serverless::StateMachine")["AgentWorkflow"]["Properties"]
    return workflow_calls((ROOT / machine["DefinitionUri"]).read_text(), deployment.substitutions)


def _explain(findings: list[Finding], recorded: Recorded) -> str:
    lines = [f"{f.function}: {f.kind}: {f.what} ({f.detail})" for f in findings]
    workflow = _workflow_calls(recorded.emulation.deployment)
    for function in sorted({f.function for f in findings}):
        calls = workflow if function == "AgentWorkflow" else recorded.calls.get(function, [])
        seen = sorted({f"{c.service}:{c.operation}" for c in calls})
        lines.append(f"{function} called: {', '.join(seen) or 'nothing'}")
    return "\n".join(lines)
