"""The benchmark's DynamoDB accounting, and the budgets it shows: every read is an
index Query or a key lookup, never a Scan; a thread is one Query. And the workflow part: its
price and write-unit arithmetic, a row counted from a history, the report, one real run."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from threadline_tools.bench_dynamodb import dynamodb_costs
from threadline_tools.bench_moto import aws_sandbox
from threadline_tools.bench_report import render, render_workflow, versions, workflow_targets
from threadline_tools.bench_units import IndexShape, TableShape
from threadline_tools.bench_workflow import (
    EXPRESS_SAMPLES,
    PRICES,
    SAMPLES,
    Prices,
    Tally,
    agent_memory_mb,
    condition_check_units,
    count_row,
    express_seconds,
    item_write_units,
    lambda_usd,
    request_units,
    standard_breakdown,
    usd_per_1000_express,
    usd_per_1000_standard,
    workflow_costs,
)


@pytest.fixture(scope="module")
def costs() -> dict[str, Any]:
    return dynamodb_costs(threads=20)


def _request(costs: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in costs["requests"] if r["request"].startswith(name))


def test_every_request_succeeds_and_is_authorized_by_one_get_item(costs: dict[str, Any]) -> None:
    for request in costs["requests"]:
        assert request["status"] in (200, 201), request["request"]
        assert request["authorizer"] == {"GetItem": 1}, request["request"]


def test_no_request_scans(costs: dict[str, Any]) -> None:
    operations = {c["operation"] for r in costs["requests"] for c in r["calls"] if c["service"] == "dynamodb"}
    assert operations <= {
        "GetItem",
        "Query",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchGetItem",
        "TransactWriteItems",
    }


def test_a_thread_with_its_steps_is_one_query(costs: dict[str, Any]) -> None:
    get = _request(costs, "get thread")
    assert get["dynamodb"] == {"Query": 1}
    assert get["items_read"] == 5  # the thread, its user data and its three steps


def test_lists_query_the_index_of_their_filter(costs: dict[str, Any]) -> None:
    # (the table's own Queries read the counters of total_count)
    indexes = {c["index"] for c in _request(costs, "list business_id")["calls"] if c["operation"] == "Query"}
    assert indexes == {"by_context_created", None}
    indexes = {c["index"] for c in _request(costs, "list status=running")["calls"] if c["operation"] == "Query"}
    assert indexes == {"by_status_created", None}


def test_the_report_renders(costs: dict[str, Any]) -> None:
    text = render({"versions": versions(), "dynamodb": costs})
    assert "get thread" in text and "DynamoDB per request" in text


def test_metadata_lists_and_counts_read_what_the_indexer_wrote(costs: dict[str, Any]) -> None:
    # (the bench delivers the stream to the indexer before each request, as AWS would have)
    metadata = _request(costs, "list metadata filter")
    assert {c["index"] for c in metadata["calls"] if c["operation"] == "Query"} == {"by_metadata_created", None}
    assert metadata["items_returned"] > 0
    counters = [
        c for c in _request(costs, "list (default)")["calls"] if c["operation"] == "Query" and c["index"] is None
    ]
    assert counters and counters[0]["returned"] > 0


# ----- the workflow part: the arithmetic, the row from a history, the report, one real run ---------
def test_write_units_round_each_item_up_to_a_kilobyte_and_double_in_a_transaction() -> None:
    assert item_write_units(1) == 1
    assert item_write_units(1024) == 1
    assert item_write_units(1025) == 2
    assert item_write_units(1500, transactional=True) == 4
    assert condition_check_units(300) == 2  # the assumption: as a transactional write of the item
    assert condition_check_units(1500) == 4


def test_a_request_costs_its_items_on_the_table_and_its_index_entries_moves() -> None:
    shapes = {"t": TableShape(keys=("pk", "sk"), indexes=(IndexShape("by_g_u", ("g", "u")),))}
    thread = {"pk": {"S": "T#1"}, "sk": {"S": "THREAD"}, "g": {"S": "acme"}, "u": {"S": "2025-01-01"}}
    step = {"pk": {"S": "T#1"}, "sk": {"S": "STEP#1"}, "blob": {"S": "x" * 1500}}
    # a step's start: the thread checked, the step put, in one transaction
    assert request_units([("t", "check", thread, thread), ("t", "transaction", None, step)], shapes) == (2 + 4, 0)
    # a touch of the thread: its index entry moves (a delete and a put)
    touched = {**thread, "u": {"S": "2025-01-02"}}
    assert request_units([("t", "write", thread, touched)], shapes) == (1, 2)
    # the larger of before and after, and a step that stays out of the index
    grown = {**step, "blob": {"S": "x" * 2100}}
    assert request_units([("t", "transaction", step, grown)], shapes) == (6, 0)


def test_standard_price_is_transitions_lambda_and_write_units() -> None:
    assert usd_per_1000_standard(50, 0, 0) == 1.25  # the older engine's 5-step clean thread: $1.25 of transitions
    assert usd_per_1000_standard(0, 0, 1600) == 1.0  # $0.625 per million write units
    prices = Prices(lambda_memory_mb=1024, lambda_ms=1000)  # 1 GB-second per invocation
    assert lambda_usd(1, prices) == pytest.approx(0.20 / 1e6 + 0.0000133334)
    assert usd_per_1000_standard(20, 6, 107) == pytest.approx(
        20 * 0.025 + 1000 * 6 * (0.2e-6 + 0.5 * 0.1 * 0.0000133334) + 107 * 0.625 / 1000, abs=1e-4
    )
    assert standard_breakdown(20, 0, 0) == pytest.approx({"transitions": 0.5, "lambda": 0.0, "dynamodb": 0.0})


def test_express_price_is_requests_and_duration_at_64_mb_plus_lambda_and_writes() -> None:
    assert express_seconds(18, 6) == 0.8  # 6 x 100 ms + 18 x 10 ms, rounded up to 100 ms
    assert usd_per_1000_express(0, 0, 0) == 0.001  # $1.00 per million workflows
    duration = 1000 * 0.8 * (64 / 1024) * 0.00001667
    expected = 0.001 + duration + 1000 * lambda_usd(6) + 100 * 0.625 / 1000
    assert usd_per_1000_express(18, 6, 100) == pytest.approx(expected, abs=1e-4)


def _event(kind: str, **details: Any) -> dict[str, Any]:
    return {"type": kind, **details}


def _scheduled(resource_type: str, resource: str) -> dict[str, Any]:
    return _event("TaskScheduled", taskScheduledEventDetails={"resourceType": resource_type, "resource": resource})


HISTORY = [
    _event("ExecutionStarted"),
    _event("MapStateEntered"),
    _event("MapIterationStarted"),
    _event("ChoiceStateEntered"),
    _event("TaskStateEntered"),
    _scheduled("lambda", "invoke"),
    _event("TaskStateEntered"),
    _scheduled("lambda", "invoke.waitForTaskToken"),
    _event("ChoiceStateEntered"),
    _event("TaskStateEntered"),
    _scheduled("aws-sdk:dynamodb", "transactWriteItems"),
    _event("TaskStateEntered"),
    _scheduled("dynamodb", "updateItem"),
    _event("ExecutionSucceeded"),
]
THREAD = {
    "id": "t1",
    "steps": [
        {"name": "decision", "run_id": "r1", "artifacts": [{"content": {"decision": "review"}}]},
        {"name": "human_review", "run_id": "r1", "artifacts": []},
    ],
}


def _tallies(agent: int = 3) -> dict[str, Tally]:
    return {
        "state_machine": Tally(Counter({"transactWriteItems": 1, "updateItem": 1}), units=5, index_units=22),
        "agent": Tally(Counter({"TransactWriteItems": agent}), units=12, index_units=10),
    }


def test_a_row_counts_billed_states_lambda_tasks_and_both_writers() -> None:
    row = count_row("suspicious", "manual", "completed", THREAD, HISTORY, _tallies())
    assert {k: row[k] for k in ("steps", "transitions", "write_requests", "write_units", "lambda_invocations")} == {
        "steps": 2,
        "transitions": 7,  # Map, Choice x2, Task x4 — not the iteration or execution events
        "write_requests": 5,  # the history's 2 + the agent's 3
        "write_units": 17,
        "lambda_invocations": 2,  # the waitForTaskToken one included
    }
    assert row["index_write_units"] == 32
    assert row["transitions_per_step"] == 3.5 and row["write_requests_per_step"] == 2.5
    assert row["decision"] == "review"
    assert row["usd_per_1000_standard"] == usd_per_1000_standard(7, 2, 17 + 32)
    assert row["usd_per_1000_express"] is None  # it waits for a human: no Express
    assert row["write_requests_by"] == {
        "state_machine": {"transactWriteItems": 1, "updateItem": 1},
        "agent": {"TransactWriteItems": 3},
    }
    no_wait = [
        e for e in HISTORY if e.get("taskScheduledEventDetails", {}).get("resource") != "invoke.waitForTaskToken"
    ]
    assert count_row("clean", "auto_approve", "completed", THREAD, no_wait, _tallies())["usd_per_1000_express"] > 0


def test_a_row_refuses_a_history_its_hooks_disagree_with() -> None:
    tallies = _tallies()
    tallies["state_machine"].requests["updateItem"] += 1  # a write the history does not schedule
    with pytest.raises(RuntimeError, match="the history schedules"):
        count_row("clean", "manual", "completed", THREAD, HISTORY, tallies)


def _row(sample: str, policy: str, transitions: int, writes: int, steps: int, usd: float) -> dict[str, Any]:
    return {
        "sample": sample,
        "interrupt_policy": policy,
        "thread_status": "completed",
        "decision": "approve",
        "steps": steps,
        "transitions": transitions,
        "transitions_per_step": round(transitions / steps, 2),
        "write_requests": writes,
        "write_requests_per_step": round(writes / steps, 2),
        "step_record_write_requests_per_step": round((writes - 1) / steps, 2),
        "run_end_write_requests": 1,
        "write_units": 45,
        "index_write_units": 62,
        "lambda_invocations": 6,
        "usd_per_1000_standard": usd,
        "usd_per_1000_express": None if policy == "manual" else 0.07,
    }


def test_the_workflow_report_shows_each_run_and_the_targets() -> None:
    rows = [_row("clean", "manual", 20, 11, 5, 0.57), _row("clean", "auto_approve", 18, 11, 5, 0.52)]
    text = render_workflow({"rows": rows, "assumptions": PRICES.assumptions()})
    assert "auto_approve" in text and "$0.5700" in text and "$0.0700" in text
    assert "transitions per step (whole run) ≤ 4: clean 4, clean (auto_approve) 3.6 — met" in text
    assert (
        "write requests per step recorded (the run's end, 1 per run, apart) ≤ 2: clean 2, clean (auto_approve) 2 — met"
        in text
    )
    assert "write requests per step (whole run, its end in) ≤ 2: clean 2.2, clean (auto_approve) 2.2 — NOT MET" in text
    assert "≤ $0.80: $0.5700 — met" in text
    assert "$0.625 per million write request units" in text
    over = workflow_targets([_row("clean", "manual", 25, 12, 5, 0.81)])
    assert [line.rsplit(" — ", 1)[1] for line in over] == ["NOT MET"] * 4


def test_the_lambda_memory_is_the_agent_functions() -> None:
    assert agent_memory_mb() == PRICES.lambda_memory_mb == 512


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    with aws_sandbox():
        return workflow_costs()


def test_a_real_run_counts_the_agents_writes_and_the_state_machines(workflow: dict[str, Any]) -> None:
    rows = {(r["sample"], r["interrupt_policy"]): r for r in workflow["rows"]}
    assert set(rows) == {(s, "manual") for s in SAMPLES} | {(s, "auto_approve") for s in EXPRESS_SAMPLES}
    required = {"sample", "steps", "transitions", "write_requests", "write_units", "lambda_invocations"}
    for row in rows.values():
        assert required | {"usd_per_1000_standard", "usd_per_1000_express"} <= set(row)
        assert row["thread_status"] == "completed"
        assert row["write_requests_refused"] == 0
    clean = rows["clean", "manual"]
    # each step: a transaction as it starts and one as it ends (the agent's); the run's end (the state machine's)
    assert clean["write_requests_by"] == {"state_machine": {"updateItem": 1}, "agent": {"TransactWriteItems": 10}}
    assert clean["write_units"] >= 10 * 4 + 1  # every item ≥ 1 KB: 2 units per transaction item
    assert clean["lambda_invocations"] == 6  # 5 steps + the review's wait, which its condition skips
    assert clean["usd_per_1000_express"] is None and rows["clean", "auto_approve"]["usd_per_1000_express"]
    review = rows["suspicious", "manual"]
    assert review["steps"] == 6
    # the resolve handler's writes are not the workflow's: only the wait (agent) and the decision (state machine)
    assert review["write_requests_by"] == {
        "state_machine": {"transactWriteItems": 1, "updateItem": 1},
        "agent": {"TransactWriteItems": 11},
    }
    assert set(workflow["assumptions"]) >= {"transitions_usd_per_1000", "write_units_usd_per_million", "notes"}
