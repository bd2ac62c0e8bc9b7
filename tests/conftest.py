"""Shared fixtures: a moto-backed deployment built from template.yaml, API keys,
and a gateway that runs the authorizer and the handlers as API Gateway does."""

from __future__ import annotations

import functools
import importlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws
from threadline import clients, wiring
from threadline.auth.api_keys import KEY_PATTERN, generate_key, hash_key
from threadline.models.agent_types import AgentType
from threadline.models.api_keys import ApiKeyRecord
from threadline.models.domain import Requester, Thread
from threadline.models.workflow import RunRef
from threadline.store import keys as store_keys
from threadline.store.api_keys import ApiKeyStore
from threadline.store.plan import plan_execution
from threadline.timeutil import format_time, now_iso
from threadline.workflow.agent_types import agent_type
from threadline_tools.execution_events import reconcile_ended
from threadline_tools.gateway import Gateway, LambdaContext, Reply
from threadline_tools.lambda_bridge import bridged, patched_moto
from threadline_tools.provision import Deployment, provision
from threadline_tools.streams import StreamPump

EVENTS = Path(__file__).resolve().parents[1] / "events"
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def execution_input(thread: Thread, agent: AgentType) -> dict[str, Any]:
    """The execution input the store plans for ``thread``, as the state machine receives it (JSON)."""
    run = RunRef(id=thread.run_id or thread.id, seq=thread.run_seq, interrupt_policy=thread.interrupt_policy)
    return plan_execution(thread, agent, run).model_dump(mode="json")


@pytest.fixture(autouse=True, scope="session")
def _one_botocore_loader() -> Iterator[None]:
    """Share one botocore data loader between sessions: every test makes fresh clients (and moto
    a fresh default session), and each new session would parse the same JSON models again."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", functools.cache(botocore.loaders.create_loader))
        yield


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@contextmanager
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """Every stateful resource of template.yaml, on moto, with the functions' environment set
    (through ``monkeypatch``, whose scope is the deployment's)."""
    with mock_aws(config=MOTO_CONFIG), patched_moto():
        created = provision()
        with bridged(created.functions):
            for name, value in created.environment().items():
                monkeypatch.setenv(name, value)
            wiring.reset()
            _PUMPS[:] = [StreamPump(created.threads_table)]
            _EVENT_PUMPS.clear()
            _EVENT_PUMPS[created.threads_table] = None
            _WEBHOOKS.clear()
            _WEBHOOKS["deployment"] = created
            yield created
            settle(created)  # no workflow may outlive the emulation it writes to
            _PUMPS.clear()
            _EVENT_PUMPS.clear()
            _WEBHOOKS.clear()
            wiring.reset()


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """A deployment for one test (a module seeding once uses ``deployed`` at module scope)."""
    with deployed(monkeypatch) as created:
        yield created


def erase(table: str, *org_ids: str) -> None:
    """Take every item of these orgs out of the emulated ``table`` as if it had never held them,
    without a stream record (the indexer has nothing to apply). For tests that give each
    hypothesis example an org of its own on one deployment: moto reads, sorts and filters the
    whole table for every Query and Scan, so the examples before would slow each one down."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from threadline_tools.moto_dynamodb import serialized

    emulated = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]].get_table(table)
    drain()  # what the indexer has yet to apply of them, before they go
    # Every partition of the key design names its org as <prefix>#<org>#... or, for its runs, <prefix>#<org>~runs#...
    marks = tuple(f"#{org_id}{end}" for org_id in org_ids for end in "#~")
    with serialized():
        for partition in [p for p in emulated.items if any(mark in f"{p.value}#" for mark in marks)]:
            del emulated.items[partition]


# The deployment's stream → indexer delivery (tools/threadline_tools/streams.py); drained before a
# request is served, through the gateway or `invoke`, as if the indexer had caught up.
_PUMPS: list[StreamPump] = []


def drain() -> int:
    """Deliver the stream's pending records to the indexer, and those its own writes make (the
    run entries it mirrors are indexed in turn), until none is pending; how many."""
    delivered = 0
    for _ in range(10):
        batch = sum(pump.drain() for pump in _PUMPS)
        if not batch:
            break
        delivered += batch
    return delivered


# The stream → RecordEventsFunction delivery, made on a test's first drain_events() (it then reads
# the stream from its start): tests that read no events do not pay for recording them.
_EVENT_PUMPS: dict[str, StreamPump | None] = {}


def drain_events() -> int:
    """Record the events of every change stored so far (the event log's writer, fed as Lambda
    would feed it); how many stream records it took."""
    table = next(iter(_EVENT_PUMPS))
    pump = _EVENT_PUMPS[table] or StreamPump(table, "RecordEventsFunction")
    _EVENT_PUMPS[table] = pump
    drain()  # the indexer's own writes (run entries) are records too: the writer skips them
    return pump.drain()


# The event log's stream → FanOutWebhooksFunction and the delivery queue → DeliverWebhooksFunction
# (tools/threadline_tools/streams.py, queues.py), made on a test's first deliver_webhooks(): only
# webhook tests pay for them, and they deliver when the test says so.
_WEBHOOKS: dict[str, Any] = {}


def deliver_webhooks(rounds: int = 10) -> int:
    """Fan the events recorded so far out to their endpoints, and hand every delivery that is due
    to the deliverer (retries due at once too: tests scale the schedule to 0), until none is left
    that is due; how many queued deliveries were handed over."""
    from threadline_tools.queues import QueuePump

    deployment: Deployment = _WEBHOOKS["deployment"]
    if "fan_out" not in _WEBHOOKS:
        _WEBHOOKS["fan_out"] = StreamPump(deployment.events_table, "FanOutWebhooksFunction")
        _WEBHOOKS["deliver"] = QueuePump(deployment.webhook_queue_url)
    handed = 0
    for _ in range(rounds):
        fanned = _WEBHOOKS["fan_out"].drain()
        delivered = _WEBHOOKS["deliver"].drain()
        handed += delivered
        if not fanned and not delivered:
            break
    return handed


class Keys:
    """Makes API keys the way ``threadline keys create`` does."""

    def __init__(self, deployment: Deployment) -> None:
        self._store = ApiKeyStore(clients.dynamodb(), deployment.keys_table)

    def create(
        self, org_id: str = "acme", project_id: str | None = None, scopes: tuple[str, ...] = ("read", "write")
    ) -> str:
        key_id, key = generate_key()
        self._store.put(
            ApiKeyRecord(
                key_hash=hash_key(key),
                key_id=key_id,
                org_id=org_id,
                name=f"test key of {org_id}",
                scopes=scopes,
                created_at=now_iso(),
                project_id=project_id,
            )
        )
        return key

    def revoke(self, key: str) -> None:
        self._store.revoke(hash_key(key), now_iso())


def key_id(key: str) -> str:
    """The id part of an API key (what ``requester.id`` and ``deleted_by`` show)."""
    match = KEY_PATTERN.match(key)
    assert match is not None, key
    return match.group(1)


@pytest.fixture
def keys(deployment: Deployment) -> Keys:
    return Keys(deployment)


class Api:
    """A client of the in-process gateway, with a default API key."""

    def __init__(self, gateway: Gateway, key: str) -> None:
        self.gateway = gateway
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        raw_body: str | None = None,
    ) -> Reply:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key != "":
            all_headers["Authorization"] = f"Bearer {key or self.key}"
        multi = {k: v if isinstance(v, list) else [str(v)] for k, v in (query or {}).items()}
        text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        return self.gateway.request(method, path, all_headers, multi, text)


@pytest.fixture
def api(deployment: Deployment, keys: Keys) -> Api:
    return Api(Gateway(before_request=drain), keys.create())


def load_event(name: str) -> dict[str, Any]:
    """An ``events/`` file, as ``sam local invoke -e`` reads it."""
    return json.loads((EVENTS / name).read_text())


def wait_for_status(api: Api, thread_id: str, wanted: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll a thread until its status is ``wanted`` (the workflow runs on moto's thread)."""
    deadline = time.monotonic() + timeout
    while True:
        body = api.call("GET", f"/v1/threads/{thread_id}").json()
        if body.get("status") == wanted or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def table_items(deployment: Deployment) -> list[dict[str, Any]]:
    """Every item of the threads table (tests use it to prove nothing was written)."""
    reply = clients.dynamodb().scan(TableName=deployment.threads_table)
    return reply["Items"]


def thread_items(deployment: Deployment) -> list[dict[str, Any]]:
    """The thread items of the threads table (not their steps, not context documents, not the
    run entries shaped as headers of ``<org>~runs``)."""
    return [
        item
        for item in table_items(deployment)
        if item["sk"]["S"] == store_keys.THREAD_SK and store_keys.RUNS_ORG_SUFFIX not in item["pk"]["S"]
    ]


# ----- contexts: a thread is created on a context that exists ----------------------------------


def sample_business() -> dict[str, Any]:
    """A complete business document (the schema of threadline_agents.cip.record): events/put_context.json's body."""
    document: dict[str, Any] = json.loads(load_event("put_context.json")["body"])
    return document


def put_business(api: Api, business_id: str, key: str | None = None, document: Any = None) -> None:
    """Store a business context through the API (PUT /v1/contexts/business/{id})."""
    body = sample_business() if document is None else document
    reply = api.call("PUT", f"/v1/contexts/business/{business_id}", body=body, key=key)
    assert reply.status in (200, 201), reply.body


# ----- direct invocation, as `sam local invoke -e events/<file>.json` does ---------------------


def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
    """Call ``functions/<function>/app.py``'s handler with ``event``."""
    module = importlib.import_module(f"functions.{function}.app")
    drain()
    result: dict[str, Any] = module.lambda_handler(event, LambdaContext(function))
    return result


def route_event(name: str, thread_id: str | None = None, **authorizer: str) -> dict[str, Any]:
    """An ``events/`` file for another thread id and/or other authorizer context values."""
    event = load_event(name)
    if thread_id is not None:
        event["pathParameters"]["thread_id"] = thread_id
        event["path"] = event["resource"].replace("{thread_id}", thread_id)
        event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{event['path']}"
    event["requestContext"]["authorizer"].update(authorizer)
    return event


# ----- state: threads seeded without a workflow, executions, "nothing changed" ----------------

BASE_TIME = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)


def stamp(minutes: float) -> str:
    """A wire timestamp ``minutes`` after a fixed base time (seeded threads sort predictably)."""
    return format_time(BASE_TIME + timedelta(minutes=minutes))


class Seed:
    """Stores threads straight through the repository: no workflow runs, timestamps are chosen."""

    def thread(
        self, org_id: str = "acme", *, created: float = 0, updated: float | None = None, **fields: Any
    ) -> Thread:
        values: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "type": "cip_orchestrator",
            "status": "running",
            "org_id": org_id,
            "project_id": "default",
            "context_type": "business",
            "context_id": "biz-1",
            "requester": Requester(id="seedkey00000", name="seed"),
            "created_at": stamp(created),
            "updated_at": stamp(created if updated is None else updated),
            **fields,
        }
        thread = Thread(**values)
        wiring.thread_store().create(thread)  # as a thread from before runs: one run, named after it
        return thread

    def context(
        self, context_type: str, context_id: str, org_id: str = "acme", document: dict[str, Any] | None = None
    ) -> None:
        """Store a context document straight through the repository."""
        text = json.dumps(sample_business() if document is None else document)
        wiring.context_store().put(org_id, context_type, context_id, text, now_iso())

    def business(self, *business_ids: str, org_id: str = "acme", document: dict[str, Any] | None = None) -> None:
        """Store business contexts (threads are created on contexts that exist)."""
        for business_id in business_ids:
            self.context("business", business_id, org_id, document)


@pytest.fixture
def seed(deployment: Deployment) -> Seed:
    return Seed()


def executions(deployment: Deployment, state_machine_arn: str | None = None) -> list[dict[str, Any]]:
    """Every execution of the agent workflow, or of another state machine: as ``name`` the id of
    the thread it runs for (its input's) when it is that thread's run (an execution's name is its
    run's id), else its own name; and its status."""
    sfn = clients.stepfunctions()
    arn = state_machine_arn or deployment.state_machine_arn
    found = []
    for listed in sfn.list_executions(stateMachineArn=arn)["executions"]:
        plan = json.loads(sfn.describe_execution(executionArn=listed["executionArn"]).get("input") or "{}")
        runs_for = (plan.get("thread") or {}).get("id") if (plan.get("run") or {}).get("id") == listed["name"] else None
        found.append({"name": runs_for or listed["name"], "status": listed["status"]})
    return found


def settle(deployment: Deployment, state_machine_arn: str | None = None, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Wait until no execution is running (moto runs them on background threads)."""
    deadline = time.monotonic() + timeout
    while True:
        found = executions(deployment, state_machine_arn)
        if all(e["status"] != "RUNNING" for e in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def raw_thread_item(deployment: Deployment, org_id: str, thread_id: str) -> dict[str, Any]:
    """The thread's item exactly as DynamoDB stores it."""
    key = {name: {"S": value} for name, value in store_keys.thread_key(org_id, thread_id).items()}
    reply = clients.dynamodb().get_item(TableName=deployment.threads_table, Key=key)
    return reply.get("Item", {})


@contextmanager
def changes_nothing(deployment: Deployment) -> Iterator[None]:
    """Assert that the block writes no thread item and starts no execution."""
    settle(deployment)
    drain()  # what was written before the block is indexed before it
    items, started = _sorted_items(deployment), executions(deployment)
    yield
    drain()  # and a write in the block would be indexed too
    assert _sorted_items(deployment) == items, "the threads table changed"
    assert executions(deployment) == started, "an execution was started"


def _sorted_items(deployment: Deployment) -> list[dict[str, Any]]:
    return sorted(table_items(deployment), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def error_body(code: str, message: str, parameter: str | None = None) -> dict[str, Any]:
    """A native-dialect error body."""
    return {"errors": [{"code": code, "message": message, "parameter": parameter}]}


def agentuity_error(code: str, message: str) -> dict[str, Any]:
    """An Agentuity-dialect error body."""
    return {"success": False, "message": message, "code": code}


# ----- wire shapes ----------------------------------------------------------------------------

TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
SUMMARY_FIELDS = {
    "object",
    "id",
    "type",
    "status",
    "created_at",
    "updated_at",
    "org_id",
    "project_id",
    "context_type",
    "context_id",
    "business_id",
    "metadata",
    "user_data",
    "requester",
    "deleted",
    "deleted_at",
    "deleted_by",
}
THREAD_FIELDS = SUMMARY_FIELDS | {"steps"}
AGENTUITY_FIELDS = {
    "id",
    "created_at",
    "updated_at",
    "deleted",
    "deleted_at",
    "deleted_by",
    "org_id",
    "project_id",
    "user_data",
    "metadata",
}


# ----- workflows: sample businesses, executions left waiting, reconciliation ------------------

BUSINESSES = EVENTS / "businesses"


def business_document(name: str) -> dict[str, Any]:
    """A sample business of ``events/businesses/`` (clean, suspicious, incomplete, sanctioned)."""
    document: dict[str, Any] = json.loads((BUSINESSES / f"{name}.json").read_text())
    return document


def start_thread(api: Api, business: str = "clean", business_id: str | None = None) -> dict[str, Any]:
    """Store a sample business and create a cip_orchestrator thread on it; the 201 body."""
    business_id = business_id or f"biz-{business}"
    put_business(api, business_id, document=business_document(business))
    reply = api.call("POST", "/v1/threads", body={"type": "cip_orchestrator", "business_id": business_id})
    assert reply.status == 201, reply.body
    body: dict[str, Any] = reply.json()
    return body


def current_run_id(deployment: Deployment, thread_id: str) -> str | None:
    """The id of a thread's current run (its execution's name), from its stored header; None
    when no thread has that id."""
    reply = clients.dynamodb().scan(
        TableName=deployment.threads_table,
        FilterExpression="sk = :thread AND id = :id",
        ExpressionAttributeValues={":thread": {"S": store_keys.THREAD_SK}, ":id": {"S": thread_id}},
    )
    items = reply.get("Items", [])
    return items[0]["execution_name"]["S"] if items else None


def execution_arn(deployment: Deployment, name: str) -> str:
    """The ARN of the agent workflow's execution called ``name``, or of a thread's current run
    when ``name`` is a thread's id."""
    name = current_run_id(deployment, name) or name
    return f"{deployment.state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def describe_execution(deployment: Deployment, name: str) -> dict[str, Any]:
    """``describe_execution`` of the agent workflow's execution called ``name``."""
    result: dict[str, Any] = clients.stepfunctions().describe_execution(executionArn=execution_arn(deployment, name))
    return result


def reconcile(deployment: Deployment) -> int:
    """Hand every ended execution to ReconcileThreadFunction, as EventBridge would; how many."""
    return reconcile_ended(clients.stepfunctions(), deployment.state_machine_arn, seen=set())


def poll(read: Any, until: Any, timeout: float = 10.0) -> Any:
    """``read()`` until ``until(value)`` holds or ``timeout`` passes; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if until(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@contextmanager
def unchanged(deployment: Deployment) -> Iterator[None]:
    """Like ``changes_nothing``, without waiting for executions to end (one may wait for a human)."""
    drain()
    items, started = _sorted_items(deployment), executions(deployment)
    yield
    drain()
    assert _sorted_items(deployment) == items, "the threads table changed"
    assert executions(deployment) == started, "an execution was started or ended"


@pytest.fixture
def stop_leftovers(deployment: Deployment) -> Iterator[None]:
    """Stop executions a test leaves waiting for a human, so teardown need not wait them out."""
    yield
    sfn = clients.stepfunctions()
    for execution in sfn.list_executions(stateMachineArn=deployment.state_machine_arn, statusFilter="RUNNING")[
        "executions"
    ]:
        sfn.stop_execution(executionArn=execution["executionArn"], cause="test ended")


def wait_for_thread(
    api: Api, deployment: Deployment, thread_id: str, wanted: str, org_id: str = "acme", timeout: float = 10.0
) -> Any:
    """Like ``wait_for_status``, polling the stored item (a GET through the gateway costs ~0.1 s of
    the interpreter the workflow runs in); then the thread as GET returns it."""
    poll(
        lambda: raw_thread_item(deployment, org_id, thread_id).get("status", {}).get("S"),
        lambda status: status == wanted,
        timeout,
    )
    return api.call("GET", f"/v1/threads/{thread_id}").json()


def seed_steps(thread: Thread, statuses: dict[str, str], started: float = 1) -> list[dict[str, Any]]:
    """Store ``thread``'s plan steps named in ``statuses`` as the state machine records them:
    the plan's item, started a minute apart from ``started`` minutes, finished ones a half minute
    later (completed with one artifact), a waiting one with a task token. The items, as stored."""
    agent = agent_type(thread.type)
    assert agent is not None, thread.type
    planned = [step for stage in execution_input(thread, agent)["stages"] for step in stage]
    stored = []
    for minute, step in enumerate(s for s in planned if s["name"] in statuses):
        status = statuses[step["name"]]
        item = {
            **step["item"],
            "status": {"S": status},
            "started_at": {"S": stamp(started + minute)},
        }
        if status not in ("running", "waiting"):
            item["completed_at"] = {"S": stamp(started + minute + 0.5)}
        if status == "completed":
            artifact = {"title": step["name"], "type": step["name"], "summary": "seeded", "confidence": 1.0}
            item["artifacts_json"] = {"S": json.dumps([artifact])}
            item["output_json"] = {"S": "{}"}
        if status == "waiting":
            item["task_token"] = {"S": f"token-of-{step['name']}"}
        clients.dynamodb().put_item(TableName=os.environ["THREADS_TABLE"], Item=item)
        stored.append(item)
    return stored


# The example webhook host resolves to a public address (this machine resolves no public name).
@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host names resolved as this dict says (others as the system resolves them)."""
    names: dict[str, list[str]] = {"hooks.example.com": ["93.184.215.14"]}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in names[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names
