"""Metrics and correlation (issue 11; docs/operations.md, "Traces and metrics").

Metrics are CloudWatch embedded-metric-format lines on the functions' standard output: they are
read back here from what the process wrote, as CloudWatch would read them from the log."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from threadline import clients, observability
from threadline_tools.provision import Deployment

from tests.conftest import (
    Api,
    Keys,
    business_document,
    describe_execution,
    drain_events,
    invoke,
    put_business,
    route_event,
    settle,
    wait_for_thread,
)
from tests.integration.test_runs import action, started, steps_of, wait_for_run

pytestmark = pytest.mark.usefixtures("stop_leftovers")

CIP = "cip_orchestrator"


def metrics_written(capfd: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every metric written so far, as ``{"name", "unit", "value", "dimensions"}``."""
    found = []
    for line in capfd.readouterr().out.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob = json.loads(line)
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == observability.NAMESPACE
        (dimensions,) = directive["Dimensions"]
        for metric in directive["Metrics"]:
            found.append(
                {
                    "name": metric["Name"],
                    "unit": metric["Unit"],
                    "value": blob[metric["Name"]][0],  # (Powertools writes a list of values)
                    "dimensions": {name: blob[name] for name in dimensions},
                }
            )
    return found


def counted(metrics: list[dict[str, Any]]) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
    return Counter(
        (metric["name"], tuple(sorted(metric["dimensions"].items()))) for metric in metrics if metric["unit"] == "Count"
    )


def test_a_reviewed_run_is_counted_once_with_bounded_dimensions(
    api: Api, deployment: Deployment, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a run on a suspicious business, interrupted for a review, approved and completed
    put_business(api, "biz-metrics", document=business_document("suspicious"))
    capfd.readouterr()
    run = started(api, business_id="biz-metrics")
    review = steps_of(wait_for_run(api, deployment, run, "interrupted"))["human_review"]["id"]
    assert action(api, run["id"], type="decision", interrupt_id=review, decision="approve").status == 200
    done = wait_for_run(api, deployment, run, "completed")
    drain_events()

    # Then its metrics are written once each, on dimensions of few values
    metrics = metrics_written(capfd)
    service = (("service", "threadline"),)
    assert counted(metrics) == Counter(
        {
            ("ThreadsCreated", (("agent_type", CIP), *service)): 1,
            ("InterruptsRaised", (("agent_type", CIP), *service)): 1,
            ("InterruptsResolved", (("agent_type", CIP), *service)): 1,
            ("RunsFinished", (("agent_type", CIP), *service, ("status", "completed"))): 1,
        }
    )
    durations = [metric for metric in metrics if metric["name"] == "StepDuration"]
    assert len(durations) == len(done["steps"])
    assert {metric["unit"] for metric in durations} == {"Milliseconds"}
    assert all(metric["value"] >= 0 for metric in durations)
    assert {metric["dimensions"]["agent"] for metric in durations} == {
        step.get("agent") or step["name"] for step in done["steps"]
    }
    # and no dimension names a tenant, a thread, a run or a step
    ids = {"acme", run["id"], run["thread_id"], *(step["id"] for step in done["steps"])}
    for metric in metrics:
        assert set(metric["dimensions"]) <= observability.DIMENSIONS | {"service"}
        assert not ids & set(metric["dimensions"].values()), metric


def test_a_cancelled_run_is_counted_as_finished_cancelled(
    api: Api, deployment: Deployment, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a run that waits for a review, then is cancelled
    put_business(api, "biz-cancel", document=business_document("suspicious"))
    run = started(api, business_id="biz-cancel")
    wait_for_run(api, deployment, run, "interrupted")
    capfd.readouterr()
    assert api.call("POST", f"/v1/runs/{run['id']}/cancel").status == 200
    wait_for_thread(api, deployment, run["thread_id"], "cancelled")
    drain_events()

    # Then the run is counted as finished, cancelled
    finished = [metric for metric in metrics_written(capfd) if metric["name"] == "RunsFinished"]
    assert [metric["dimensions"]["status"] for metric in finished] == ["cancelled"]


def test_refused_keys_are_counted_by_reason(api: Api, keys: Keys, capfd: pytest.CaptureFixture[str]) -> None:
    revoked, valid = keys.create(), keys.create()
    keys.revoke(revoked)
    unknown = valid[:-1] + ("A" if valid[-1] != "A" else "B")  # well-formed, but no key's
    capfd.readouterr()
    assert api.call("GET", "/v1/threads", key="").status == 401
    assert api.call("GET", "/v1/threads", key="tl_not-a-key").status == 401
    assert api.call("GET", "/v1/threads", key=unknown).status == 401
    assert api.call("GET", "/v1/threads", key=revoked).status == 401

    denials = [metric for metric in metrics_written(capfd) if metric["name"] == "AuthorizerDenials"]
    # (a request without the header never reaches the authorizer: API Gateway refuses it)
    assert sorted(metric["dimensions"]["reason"] for metric in denials) == ["malformed", "revoked", "unknown"]


def test_an_idempotent_replay_is_counted(api: Api, capfd: pytest.CaptureFixture[str]) -> None:
    put_business(api, "biz-replay")
    body = {"type": CIP, "business_id": "biz-replay"}
    headers = {"Idempotency-Key": "replay-metric-1"}
    first = api.call("POST", "/v1/threads", body=body, headers=headers)
    capfd.readouterr()
    again = api.call("POST", "/v1/threads", body=body, headers=headers)
    assert again.status == first.status == 201

    metrics = metrics_written(capfd)
    assert [metric["name"] for metric in metrics if metric["name"] == "IdempotentReplays"] == ["IdempotentReplays"]
    assert "ThreadsCreated" not in {metric["name"] for metric in metrics}


def test_a_throttled_call_is_answered_503_and_counted_by_its_operation(
    api: Api, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given DynamoDB throttling the thread's read
    def throttled(**_: Any) -> Any:
        error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
        raise ClientError(error, "Query")  # type: ignore[arg-type]

    monkeypatch.setattr(clients.dynamodb(), "query", throttled)
    capfd.readouterr()
    reply = api.call("GET", "/v1/threads/3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c")

    assert reply.status == 503
    throttles = [metric for metric in metrics_written(capfd) if metric["name"] == "Throttled"]
    assert [metric["dimensions"]["operation"] for metric in throttles] == ["Query"]


class _Lines(logging.Handler):
    """The functions' log lines, as their Powertools logger formats them (with its keys)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        (service,) = logging.getLogger("threadline").handlers
        self.setFormatter(service.formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_a_request_s_correlation_id_is_in_its_execution_and_its_agent_function_s_logs(
    api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a thread created by a request with API Gateway's request id
    event = route_event("create_thread.json", org_id="acme")
    put_business(api, json.loads(event["body"])["business_id"])
    event["requestContext"]["requestId"] = "c0ffee00-1111-4222-8333-444455556666"
    logged = _Lines()
    monkeypatch.setattr(
        logging.getLogger("threadline"), "handlers", [*logging.getLogger("threadline").handlers, logged]
    )
    reply = invoke("create_thread", event)
    assert reply["statusCode"] == 201, reply
    thread = json.loads(reply["body"])
    # (waiting on the executions, not on GETs: the process's functions share one Powertools logger,
    # whose correlation id a request served meanwhile would set; on Lambda, one invocation at a time)
    (execution,) = settle(deployment)
    assert execution["status"] == "SUCCEEDED"

    # Then its execution's input carries the id, and the agent function logs with it
    execution = describe_execution(deployment, thread["id"])
    assert json.loads(execution["input"])["run"]["correlation_id"] == event["requestContext"]["requestId"]
    agent_lines = [line for line in logged.lines if line.get("thread_id") == thread["id"] and "step" in line]
    assert agent_lines, "the agent function logged nothing"
    assert {line.get("correlation_id") for line in agent_lines} == {event["requestContext"]["requestId"]}


def test_a_metric_may_not_have_an_unbounded_dimension() -> None:
    with pytest.raises(ValueError, match="org_id"):
        observability.count("ThreadsCreated", org_id="acme")
