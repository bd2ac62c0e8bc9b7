"""The benchmark's DynamoDB accounting, and the budgets it shows: every read is an
index Query or a key lookup, never a Scan; a thread is one Query."""

from __future__ import annotations

from typing import Any

import pytest
from threadline_tools.bench_dynamodb import dynamodb_costs
from threadline_tools.bench_report import render, versions


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
