"""Workflow costs per thread: state transitions, DynamoDB writes, Lambda invocations and the
price of 1,000 runs, for one ``cip_orchestrator`` thread per sample business, run for real on
moto (counted, not timed: these are what AWS bills).

Each sample business (``events/businesses/``) gets a thread created through the API with the
interrupt policy ``manual``; a thread that stops ``interrupted`` (suspicious, sanctioned) is
resolved ``approve`` through the API and run to its end. The samples that never wait for a
human (clean, incomplete) run a second time with ``auto_approve``: a run an Express workflow
accepts (it refuses ``manual`` for an agent type with an interrupt step). Per run:

- ``transitions``: the execution history's ``*StateEntered`` events of the types Step Functions
  bills a transition for (Task, Pass, Choice, Map, Parallel, Wait, Succeed, Fail).
- ``write_requests``: DynamoDB write requests made *by the workflow*, that is
  (a) the state machine's own service integrations, counted from the history: each
  ``taskScheduled`` of a DynamoDB resource ``putItem``, ``updateItem``, ``deleteItem``,
  ``transactWriteItems`` or ``batchWriteItem`` is one request (a retried task is scheduled
  again, and counted again); plus
  (b) the agent function's boto3 write calls (PutItem, UpdateItem, DeleteItem,
  TransactWriteItems, BatchWriteItem), counted by botocore hooks on ``threadline.clients.dynamodb()``
  (the client every function of the process uses) and kept only while the call is made inside
  an invocation of a function *by Lambda*, i.e. by the state machine's Lambda tasks (moto's
  Lambda runs the agent in-process and in the calling thread, ``lambda_bridge``): the API's
  handlers (create, resolve, the reads of the polling) share that client but are invoked by the
  gateway, not by Lambda, and are not counted. A call that fails (a refused condition, a
  cancelled transaction) is counted: DynamoDB bills it too. Reads are not counted, nor are the
  writes of the stream-triggered indexer (``IndexThreadsFunction``), which the workflow's writes
  cause on AWS but which moto does not deliver here.
- ``write_units``: the write request units of those requests at on-demand billing, on the
  table: each item written costs its size rounded up to 1 KB, 1 unit per KB, 2 inside a
  transaction; a ``ConditionCheck`` of a transaction costs 2 units per KB of the item it checks
  (2 for an item ≤ 1 KB: an ASSUMPTION, AWS's pricing page does not say). An item's size is
  the larger of its size before and after the write, each estimated as ``bench_calls.item_size``
  does: the UTF-8 length of every attribute name plus its value (strings and binaries their
  length, numbers ~1 byte per 2 significant digits + 1, maps and lists 3 bytes + 1 per element),
  with the item read (consistently, by a client of the bench's own) just before and just after
  the call. ``index_write_units`` are the global secondary indexes' units of the same writes
  (``bench_units.write_units``: an entry put, deleted, or both when its index key moves), which
  DynamoDB bills too; the price counts both.
- ``lambda_invocations``: the history's ``taskScheduled`` events of a Lambda resource (the
  ``waitForTaskToken`` one included).
- ``steps``: the steps recorded on the thread at the end.

``PRICES`` holds the list prices and the duration assumptions behind the USD figures;
``assumptions()`` prints them with the report.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from threadline_tools import bench_units
from threadline_tools.bench_calls import item_size
from threadline_tools.bench_moto import MOTO_CONFIG, REGION
from threadline_tools.bench_units import WRITE_UNIT_BYTES, Item, TableShape, table_shape
from threadline_tools.template import ROOT, resources, template

SAMPLES = ("clean", "incomplete", "suspicious", "sanctioned")
EXPRESS_SAMPLES = ("clean", "incomplete")  # never wait for a human: also run as Express would run them
AGENT_FUNCTION = "AgentFunction"
THREADS_TABLE = "ThreadsTableV2"

# Step Functions bills a transition for each state entered, of these types.
BILLED_STATES = ("Task", "Pass", "Choice", "Map", "Parallel", "Wait", "Succeed", "Fail")
# The state machine's DynamoDB integrations that write (``dynamodb:`` and ``aws-sdk:dynamodb:``).
STATE_MACHINE_WRITES = ("putitem", "updateitem", "deleteitem", "transactwriteitems", "batchwriteitem")
AGENT_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
CONDITION_CHECK_UNITS_PER_KB = 2  # an assumption (module docstring)

# The targets, shown next to the figures (never asserted).
TARGET_TRANSITIONS_PER_STEP = 4
TARGET_WRITE_REQUESTS_PER_STEP = 2
TARGET_USD_PER_1000_CLEAN_STANDARD = 0.80


def agent_memory_mb() -> int:
    """The agent function's MemorySize in template.yaml (its own, else the Globals')."""
    props = resources("AWS::Serverless::Function")[AGENT_FUNCTION]["Properties"]
    return int(props.get("MemorySize") or template()["Globals"]["Function"]["MemorySize"])


@dataclass(frozen=True)
class Prices:
    """List prices (us-east-1) and the assumptions the USD figures rest on."""

    transitions_usd_per_1000: float = 0.025  # Step Functions Standard
    lambda_requests_usd_per_million: float = 0.20
    lambda_gb_second_usd: float = 0.0000133334  # arm64
    lambda_memory_mb: int = 512  # the agent function's MemorySize in template.yaml
    lambda_ms: float = 100.0  # ASSUMED billed duration of one agent invocation
    write_units_usd_per_million: float = 0.625  # DynamoDB on-demand write request units (since Nov 2024)
    express_requests_usd_per_million: float = 1.00  # Step Functions Express, workflows started
    express_gb_second_usd: float = 0.00001667  # the first tier
    express_memory_mb: int = 64  # Express bills memory in 64 MB chunks: assumed the smallest
    express_ms_per_transition: float = 10.0  # ASSUMED time a run spends per state, beyond its Lambda time

    def assumptions(self) -> dict[str, Any]:
        """What the USD figures assume, as the report prints it."""
        return {
            **asdict(self),
            "condition_check_units_per_kb": CONDITION_CHECK_UNITS_PER_KB,
            "notes": [
                f"Standard: ${self.transitions_usd_per_1000:g} per 1,000 state transitions + Lambda + DynamoDB.",
                f"Lambda: ${self.lambda_requests_usd_per_million:.2f} per 1M requests"
                f" + ${_plain(self.lambda_gb_second_usd)} per GB-second (arm64) at {self.lambda_memory_mb} MB,"
                f" each agent invocation assumed to bill {self.lambda_ms:g} ms (the waitForTaskToken one"
                " returns at once: the wait is Step Functions').",
                f"DynamoDB: on-demand, ${self.write_units_usd_per_million:g} per million write request units"
                " (us-east-1 list price since Nov 2024), on the table and on its global secondary indexes;"
                " reads and the stream indexer's writes not counted.",
                "DynamoDB units: each item's size (names + values, the larger of before and after) rounded up"
                " to 1 KB; 1 unit per KB, 2 in a transaction; a ConditionCheck in a transaction assumed"
                f" {CONDITION_CHECK_UNITS_PER_KB} units per KB of the item checked.",
                f"Express: ${self.express_requests_usd_per_million:.2f} per 1M workflows +"
                f" ${_plain(self.express_gb_second_usd)} per GB-second at {self.express_memory_mb} MB, a run"
                f" assumed to last its agent invocations ({self.lambda_ms:g} ms each, one after another) +"
                f" {self.express_ms_per_transition:g} ms per state transition, rounded up to 100 ms; + the same"
                " Lambda and DynamoDB. Only for runs that never wait for a human (Express has no task tokens:"
                " it refuses a manual run of an agent type with an interrupt step).",
            ],
        }


def _plain(value: float) -> str:
    return f"{value:.10f}".rstrip("0")


PRICES = Prices()  # workflow_costs takes the memory from template.yaml (agent_memory_mb)


# ----- the arithmetic (pure) -----------------------------------------------------------------------
def kilobytes(size: int) -> int:
    """A write's size in billed KB: rounded up, at least 1."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def item_write_units(size: int, *, transactional: bool = False) -> int:
    """Table write units of one item written, from its size in bytes (the larger of before and
    after): 1 per KB, 2 per KB inside a transaction."""
    return kilobytes(size) * (2 if transactional else 1)


def condition_check_units(size: int) -> int:
    """Units of a ``ConditionCheck`` inside a transaction, from the size of the item checked (an
    assumption: as a transactional write of the item)."""
    return kilobytes(size) * CONDITION_CHECK_UNITS_PER_KB


def request_units(
    items: Iterable[tuple[str, str, Item | None, Item | None]], shapes: Mapping[str, TableShape]
) -> tuple[int, int]:
    """(table units, index units) of one write request, from each item it names: (table, kind,
    the item before, after), kind ``write`` (a standard write), ``transaction`` (a Put, Update or
    Delete in a transaction) or ``check`` (a ConditionCheck in a transaction). The table's units
    go by the larger of the item's sizes; its indexes' by ``bench_units.write_units``."""
    table = indexes = 0
    for name, kind, old, new in items:
        if kind == "check":
            table += condition_check_units(item_size(old or {}))
            continue
        table += item_write_units(max(item_size(old or {}), item_size(new or {})), transactional=kind == "transaction")
        indexes += int(bench_units.write_units(old, new, shapes[name]).indexes)
    return table, indexes


def lambda_usd(invocations: int, prices: Prices = PRICES) -> float:
    """One run's Lambda price: its requests and its GB-seconds."""
    gb_seconds = invocations * (prices.lambda_memory_mb / 1024) * (prices.lambda_ms / 1000)
    requests = invocations * prices.lambda_requests_usd_per_million / 1_000_000
    return requests + gb_seconds * prices.lambda_gb_second_usd


def express_seconds(transitions: int, lambda_invocations: int, prices: Prices = PRICES) -> float:
    """The assumed duration of one Express run, rounded up to 100 ms as Express bills it."""
    ms = lambda_invocations * prices.lambda_ms + transitions * prices.express_ms_per_transition
    return math.ceil(ms / 100) / 10


def standard_breakdown(
    transitions: int, lambda_invocations: int, write_units: float, prices: Prices = PRICES
) -> dict[str, float]:
    """USD of 1,000 runs on a Standard workflow, by what bills it."""
    return {
        "transitions": transitions * prices.transitions_usd_per_1000,
        "lambda": 1000 * lambda_usd(lambda_invocations, prices),
        "dynamodb": write_units * prices.write_units_usd_per_million / 1000,
    }


def usd_per_1000_standard(
    transitions: int, lambda_invocations: int, write_units: float, prices: Prices = PRICES
) -> float:
    """USD of 1,000 runs on a Standard workflow (state transitions, Lambda, DynamoDB writes)."""
    return round(sum(standard_breakdown(transitions, lambda_invocations, write_units, prices).values()), 4)


def usd_per_1000_express(
    transitions: int, lambda_invocations: int, write_units: float, prices: Prices = PRICES
) -> float:
    """USD of 1,000 runs on an Express workflow (requests and duration at 64 MB, Lambda, DynamoDB)."""
    gb_seconds = express_seconds(transitions, lambda_invocations, prices) * prices.express_memory_mb / 1024
    workflow = prices.express_requests_usd_per_million / 1_000_000 + gb_seconds * prices.express_gb_second_usd
    dynamodb = write_units * prices.write_units_usd_per_million / 1_000_000
    per_run = workflow + lambda_usd(lambda_invocations, prices) + dynamodb
    return round(1000 * per_run, 4)


# ----- the writes, metered -------------------------------------------------------------------------
@dataclass
class Tally:
    """Write requests and their units, for one writer (the state machine, the agent function)."""

    requests: Counter[str] = field(default_factory=Counter)  # by operation
    units: int = 0  # on the table
    index_units: int = 0  # on its global secondary indexes
    failed: int = 0  # requests DynamoDB refused (billed all the same)

    @property
    def count(self) -> int:
        return sum(self.requests.values())


class WorkflowWrites:
    """botocore hooks on DynamoDB clients: each write call's requests and write units, by writer.

    ``hook(client, "state_machine")`` counts every write the client makes (the Step Functions
    interpreter's own client); ``hook(client, "agent")`` only those made inside ``invocation()``
    (a function invoked by Lambda) in the same thread. Each item a write names is read before and
    after the call through ``reader`` (a client not hooked) for its size and index entries."""

    def __init__(self, reader: Any, shapes: Mapping[str, TableShape]) -> None:
        self._reader = reader
        self._shapes = dict(shapes)
        self._local = threading.local()
        self._lock = threading.Lock()
        self.tallies: dict[str, Tally] = {}
        self._hooked: list[Any] = []

    def hook(self, client: Any, writer: str) -> None:
        """Meter ``client``'s writes as ``writer``'s."""
        if any(client is seen for seen in self._hooked):
            raise ValueError("client hooked already")
        self._hooked.append(client)
        client.meta.events.register("provide-client-params.dynamodb", self._before(writer))
        client.meta.events.register("after-call.dynamodb", self._after(writer))

    @contextmanager
    def invocation(self) -> Iterator[None]:
        """A function invoked by Lambda runs in the block (in this thread)."""
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth

    def take(self) -> dict[str, Tally]:
        """The tallies so far, starting afresh."""
        with self._lock:
            taken, self.tallies = self.tallies, {}
        return taken

    def _counts(self, writer: str) -> bool:
        return writer != "agent" or getattr(self._local, "depth", 0) > 0

    def _before(self, writer: str) -> Callable[..., None]:
        def before(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            if model.name in AGENT_WRITES and self._counts(writer):
                targets = self._targets(model.name, params)
                context["bench_workflow_writes"] = [(*t, self._read(t[0], t[1])) for t in targets]

        return before

    def _after(self, writer: str) -> Callable[..., None]:
        def after(parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            targets = context.pop("bench_workflow_writes", None)
            if targets is None:
                return
            items = [(table, kind, old, self._read(table, key)) for table, key, kind, old in targets]
            units, index_units = request_units(items, self._shapes)
            with self._lock:
                tally = self.tallies.setdefault(writer, Tally())
                tally.requests[model.name] += 1
                tally.units += units
                tally.index_units += index_units
                tally.failed += 1 if "Error" in parsed else 0

        return after

    def _targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
        """(table, key, "write" | "transaction" | "check") of each item the write names."""
        found: list[tuple[str, dict[str, Any], str]] = []

        def name(table: str, item: dict[str, Any] | None, key: dict[str, Any] | None, kind: str) -> None:
            shape = self._shapes.get(table)
            if shape is None:
                raise ValueError(f"a workflow write to a table not metered: {table}")
            found.append((table, key or {k: (item or {})[k] for k in shape.keys}, kind))

        if operation == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                kind, op = next(iter(entry.items()))
                name(
                    op["TableName"],
                    op.get("Item"),
                    op.get("Key"),
                    "check" if kind == "ConditionCheck" else "transaction",
                )
        elif operation == "BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        name(table, request["PutRequest"]["Item"], None, "write")
                    else:
                        name(table, None, request["DeleteRequest"]["Key"], "write")
        else:
            name(params["TableName"], params.get("Item"), params.get("Key"), "write")
        return found

    def _read(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item


# ----- the runs ------------------------------------------------------------------------------------
def workflow_costs(prices: Prices | None = None) -> dict[str, Any]:
    """Run one cip_orchestrator thread per sample business and count what its execution did:
    ``{"rows": [...], "assumptions": {...}}`` (``prices``: ``PRICES`` with the agent function's
    memory from template.yaml)."""
    prices = prices or replace(PRICES, lambda_memory_mb=agent_memory_mb())
    from botocore.session import get_session
    from moto import mock_aws
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_dynamodb,
    )
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
        reader = get_session().create_client("dynamodb", region_name=REGION)
        writes = WorkflowWrites(reader, {deployment.threads_table: table_shape(THREADS_TABLE)})
        # The state machine's DynamoDB tasks share one client (lambda_bridge caches them): hook it.
        integrations: list[Any] = [state_task_service_dynamodb, state_task_service_aws_sdk]
        interpreter = integrations[0].boto_client_for(region=REGION, service="dynamodb")
        if integrations[1].boto_client_for(region=REGION, service="dynamodb") is not interpreter:
            raise RuntimeError("the state machine's DynamoDB integrations no longer share one client")
        writes.hook(interpreter, "state_machine")
        writes.hook(clients.dynamodb(), "agent")
        invoke = LambdaSimpleBackend.invoke  # lambda_bridge's: runs the function in-process

        def invoked_by_lambda(self: Any, *args: Any, **kwargs: Any) -> Any:
            with writes.invocation():
                return invoke(self, *args, **kwargs)

        with bridged(deployment.functions), _patched(LambdaSimpleBackend, "invoke", invoked_by_lambda):
            key_id, key = generate_key()
            ApiKeyStore(clients.dynamodb(), deployment.keys_table).put(
                ApiKeyRecord(hash_key(key), key_id, "bench", "bench", ("read", "write"), now_iso())
            )
            gateway = Gateway()
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            runs = [(sample, "manual") for sample in SAMPLES] + [(s, "auto_approve") for s in EXPRESS_SAMPLES]
            rows = []
            for sample in SAMPLES:
                document = (ROOT / "events" / "businesses" / f"{sample}.json").read_text()
                gateway.request("PUT", f"/v1/contexts/business/{sample}", headers, {}, document)
            for sample, policy in runs:
                writes.take()
                body = json.dumps({"type": "cip_orchestrator", "business_id": sample, "interrupt_policy": policy})
                created = gateway.request("POST", "/v1/threads", headers, {}, body)
                if created.status != 201:
                    raise RuntimeError(f"POST /v1/threads answered {created.status}: {created.body[:200]}")
                thread_id = created.json()["id"]
                status = _wait(gateway, headers, thread_id)
                if status == "interrupted":
                    step = next(s for s in _thread(gateway, headers, thread_id)["steps"] if s["status"] == "waiting")
                    resolve = json.dumps({"decision": "approve"})
                    path = f"/v1/threads/{thread_id}/steps/{step['id']}/resolve"
                    gateway.request("POST", path, headers, {}, resolve)
                    status = _wait(gateway, headers, thread_id)
                thread = _thread(gateway, headers, thread_id)
                events = _history(deployment, thread)
                rows.append(count_row(sample, policy, status, thread, events, writes.take(), prices))
        wiring.reset()
    return {"rows": rows, "assumptions": prices.assumptions()}


@contextmanager
def _patched(target: Any, name: str, value: Any) -> Iterator[None]:
    from unittest import mock

    with mock.patch.object(target, name, value):
        yield


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


def _history(deployment: Any, thread: dict[str, Any]) -> list[dict[str, Any]]:
    """The execution history of the thread's run, once the execution has ended."""
    from threadline import clients

    sfn = clients.stepfunctions()
    run_ids = {s["run_id"] for s in thread["steps"]}
    if len(run_ids) != 1:
        raise RuntimeError(f"thread {thread['id']}: expected the steps of one run, found runs {sorted(run_ids)}")
    arn = deployment.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run_ids.pop()}"
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    events: list[dict[str, Any]] = []
    token = None
    while True:
        if token is None:
            page = sfn.get_execution_history(executionArn=arn, maxResults=1000)
        else:
            page = sfn.get_execution_history(executionArn=arn, maxResults=1000, nextToken=token)
        events += [dict(event) for event in page["events"]]
        token = page.get("nextToken")
        if not token:
            return events


RUN_END_STATES = frozenset({"RecordRunCompleted", "RecordRunFailed"})


def count_row(
    sample: str,
    policy: str,
    status: str,
    thread: dict[str, Any],
    events: list[dict[str, Any]],
    tallies: Mapping[str, Tally],
    prices: Prices = PRICES,
) -> dict[str, Any]:
    """One run's row, from its execution history and the writes metered while it ran."""
    kinds = Counter(e["type"] for e in events)
    transitions = sum(kinds[f"{state}StateEntered"] for state in BILLED_STATES)
    scheduled = [e["taskScheduledEventDetails"] for e in events if "taskScheduledEventDetails" in e]
    lambdas = sum(1 for task in scheduled if task["resourceType"] == "lambda")
    machine_requests = Counter(
        task["resource"]
        for task in scheduled
        if "dynamodb" in task["resourceType"] and task["resource"].lower() in STATE_MACHINE_WRITES
    )
    machine = tallies.get("state_machine", Tally())
    agent = tallies.get("agent", Tally())
    if sum(machine_requests.values()) != machine.count:  # the hook and the history must agree
        raise RuntimeError(
            f"{sample}: the history schedules {dict(machine_requests)} DynamoDB writes,"
            f" the state machine's client made {dict(machine.requests)}"
        )
    write_requests = sum(machine_requests.values()) + agent.count
    # The run's own end (RecordRunCompleted or RecordRunFailed): one write per run, not per step.
    run_end = sum(1 for e in events if e.get("stateEnteredEventDetails", {}).get("name") in RUN_END_STATES)
    units = machine.units + agent.units
    index_units = machine.index_units + agent.index_units
    steps = len(thread["steps"])
    decision = next(
        (a["content"]["decision"] for s in thread["steps"] if s["name"] == "decision" for a in s["artifacts"]),
        None,
    )
    waits = any(task["resource"].endswith(".waitForTaskToken") for task in scheduled)
    billed_units = units + index_units
    return {
        "sample": sample,
        "interrupt_policy": policy,
        "steps": steps,
        "transitions": transitions,
        "write_requests": write_requests,
        "write_units": units,
        "lambda_invocations": lambdas,
        "usd_per_1000_standard": usd_per_1000_standard(transitions, lambdas, billed_units, prices),
        "usd_per_1000_express": None if waits else usd_per_1000_express(transitions, lambdas, billed_units, prices),
        "transitions_per_step": round(transitions / steps, 2) if steps else None,
        "write_requests_per_step": round(write_requests / steps, 2) if steps else None,
        "step_record_write_requests_per_step": round((write_requests - run_end) / steps, 2) if steps else None,
        "run_end_write_requests": run_end,
        "thread_status": status,
        "decision": decision,
        "index_write_units": index_units,
        "write_requests_by": {
            "state_machine": dict(sorted(machine_requests.items())),
            "agent": dict(sorted(agent.requests.items())),
        },
        "write_units_by": {"state_machine": machine.units, "agent": agent.units},
        "write_requests_refused": machine.failed + agent.failed,
        "usd_per_1000_standard_by": {
            k: round(v, 4) for k, v in standard_breakdown(transitions, lambdas, billed_units, prices).items()
        },
    }
