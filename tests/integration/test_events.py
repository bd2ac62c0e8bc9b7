"""The event log (SPEC §6): every change of a run, and a thread deleted or restored, recorded from
the threads table's stream by RecordEventsFunction, and read with GET /v1/events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from threadline import wiring
from threadline_tools.provision import Deployment
from threadline_tools.streams import StreamPump

from tests.conftest import (
    Api,
    Keys,
    business_document,
    drain_events,
    invoke,
    load_event,
    put_business,
    start_thread,
    wait_for_thread,
)
from tests.integration.test_runs import action, feedback, started, steps_of, wait_for_run

pytestmark = pytest.mark.usefixtures("stop_leftovers")

UNKNOWN = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"
EVENT_FIELDS = {"object", "id", "type", "created_at", "data"}
# A suspicious business: five checks (three in parallel), a human review, approved.
SUSPICIOUS_APPROVED = [
    "run.created",
    "run.step_started",  # business_record
    "run.step_finished",
    *["run.step_started"] * 3,  # tin_check, address_check, watchlist_screening (any order)
    *["run.step_finished"] * 3,
    "run.step_started",  # decision
    "run.step_finished",
    "run.step_started",  # human_review waits: its step, then its thread (one transaction, in that order)
    "run.interrupted",
    "run.resumed",
    "run.step_finished",
    "run.completed",
    "run.feedback_given",
]


def list_events(api: Api, key: str | None = None, **query: Any) -> Any:
    drain_events()
    return api.call("GET", "/v1/events", query=query, key=key)


def events_of(api: Api, key: str | None = None, **query: Any) -> list[dict[str, Any]]:
    """Every event the list gives for ``query``, following its cursor."""
    found: list[dict[str, Any]] = []
    while True:
        reply = list_events(api, key=key, limit=100, **query)
        assert reply.status == 200, reply.body
        page = reply.json()
        found += page["data"]
        if not page["has_more"]:
            return found
        query = {**query, "cursor": page["next_cursor"]}


def stored_events(deployment: Deployment) -> list[dict[str, Any]]:
    import boto3

    items = boto3.client("dynamodb").scan(TableName=deployment.events_table)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


@pytest.fixture
def approved_run(api: Api, deployment: Deployment) -> dict[str, Any]:
    """A run on a suspicious business, interrupted for a human review, approved, completed and
    given feedback."""
    put_business(api, "biz-suspicious", document=business_document("suspicious"))
    run = started(api, business_id="biz-suspicious")
    review = steps_of(wait_for_run(api, deployment, run, "interrupted"))["human_review"]["id"]
    assert action(api, run["id"], type="decision", interrupt_id=review, decision="approve").status == 200
    done = wait_for_run(api, deployment, run, "completed")
    assert feedback(api, run["id"], step_id=review, rating="positive").status == 201
    return done


def test_a_run_with_a_human_review_is_every_change_once_in_order(api: Api, approved_run: dict[str, Any]) -> None:
    # When the run's events are listed
    events = events_of(api, run_id=approved_run["id"])

    # Then each change is one event, in the order stored (the three parallel checks' in any
    # order, each step's start before its finish), ids increasing
    types = [event["type"] for event in events]
    assert (
        types[:3] + sorted(types[3:9]) + types[9:]
        == SUSPICIOUS_APPROVED[:3] + sorted(SUSPICIOUS_APPROVED[3:9]) + SUSPICIOUS_APPROVED[9:]
    )
    for name in {e["data"]["object"]["name"] for e in events if e["type"] == "run.step_started"}:
        of_step = [
            e["type"] for e in events if e["type"].startswith("run.step_") and e["data"]["object"]["name"] == name
        ]
        assert of_step == ["run.step_started", "run.step_finished"], name
    assert [event["id"] for event in events] == sorted({event["id"] for event in events})
    assert all(set(event) == EVENT_FIELDS and event["object"] == "event" for event in events)
    # the run as it was at each of its changes
    runs = [event["data"]["object"] for event in events if event["data"]["object"]["object"] == "run"]
    assert [run["status"] for run in runs] == ["running", "interrupted", "running", "completed"]
    assert all(run["id"] == approved_run["id"] for run in runs)
    assert runs[-1]["ended_at"] == approved_run["ended_at"]
    # each step as it was when it started and when it finished
    steps = [event["data"]["object"] for event in events if event["type"].startswith("run.step_")]
    assert {step["name"] for step in steps} == {step["name"] for step in approved_run["steps"]}
    review_events = [step for step in steps if step["name"] == "human_review"]
    assert [(s["status"], s["resolution"]) for s in review_events] == [("waiting", None), ("completed", "human")]
    assert all(step["object"] == "step" and step["run_id"] == approved_run["id"] for step in steps)
    assert events[-1]["data"]["object"]["object"] == "feedback"


def test_the_thread_and_org_lists_and_the_type_filter_read_the_same_events(
    api: Api, approved_run: dict[str, Any]
) -> None:
    of_run = events_of(api, run_id=approved_run["id"])
    assert events_of(api, thread_id=approved_run["thread_id"]) == of_run
    assert events_of(api) == of_run
    assert events_of(api, type="run.step_finished") == [e for e in of_run if e["type"] == "run.step_finished"]
    assert events_of(api, thread_id=approved_run["thread_id"], type="run.completed") == [of_run[-2]]
    assert events_of(api, run_id=approved_run["id"], type="run.created") == [of_run[0]]


def test_pages_follow_after_and_cursor_without_gaps_or_repeats(api: Api, approved_run: dict[str, Any]) -> None:
    everything = events_of(api, run_id=approved_run["id"])

    # When the run's events are read three at a time, by cursor
    pages, query = [], {"run_id": approved_run["id"], "limit": 3}
    while True:
        reply = list_events(api, **query)
        assert reply.status == 200, reply.body
        pages.append(reply.json())
        if not reply.json()["has_more"]:
            break
        query["cursor"] = reply.json()["next_cursor"]

    # Then the pages are the list, cut in threes, the last without a cursor
    assert [event for page in pages for event in page["data"]] == everything
    assert all(len(page["data"]) == 3 for page in pages[:-1])
    assert pages[-1]["next_cursor"] is None
    # and `after` an event starts right after it
    after = events_of(api, after=everything[4]["id"])
    assert after == everything[5:]


def test_recording_a_change_again_records_nothing_new(
    api: Api, deployment: Deployment, approved_run: dict[str, Any]
) -> None:
    # Given the events recorded once
    drain_events()
    before = stored_events(deployment)

    # When the whole stream is delivered to the writer again (as a retried batch would be)
    replayed = StreamPump(deployment.threads_table, "RecordEventsFunction").drain()

    # Then the same events, none doubled
    assert replayed > 0
    assert stored_events(deployment) == before


def test_a_cancelled_run_and_a_deleted_and_restored_thread_are_events(api: Api, deployment: Deployment) -> None:
    # Given a run waiting for a human, cancelled; its thread deleted, then restored
    put_business(api, "biz-suspicious", document=business_document("suspicious"))
    run = wait_for_run(api, deployment, started(api, business_id="biz-suspicious"), "interrupted")
    assert api.call("POST", f"/v1/runs/{run['id']}/cancel").status == 200
    assert api.call("DELETE", f"/v1/threads/{run['thread_id']}").status == 200
    assert api.call("POST", f"/v1/threads/{run['thread_id']}/restore").status == 200

    # When its events are read
    events = events_of(api, thread_id=run["thread_id"])

    # Then the cancel (its open review closed, then its run, in one transaction), the deletion
    # and the restoration are its last
    types = [event["type"] for event in events]
    assert types[-4:] == ["run.step_finished", "run.cancelled", "thread.deleted", "thread.restored"]
    [cancelled] = [event["data"]["object"] for event in events if event["type"] == "run.cancelled"]
    deleted, restored = (event["data"]["object"] for event in events[-2:])
    assert (cancelled["object"], cancelled["status"]) == ("run", "cancelled")
    assert (deleted["object"], deleted["id"], deleted["deleted"]) == ("thread", run["thread_id"], True)
    assert (restored["deleted"], restored["user_data"]) == (False, None)  # never a thread's user_data
    # the open review was closed with the run
    review = [e for e in events if e["type"] == "run.step_finished" and e["data"]["object"]["name"] == "human_review"]
    assert review[0]["data"]["object"]["status"] == "cancelled"


def test_a_failed_run_completes_in_error(api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    import threadline_agents.cip

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the registry is down")

    monkeypatch.setattr(threadline_agents.cip, "business_record", broken)
    thread = start_thread(api, "clean")
    wait_for_thread(api, deployment, thread["id"], "failed")
    events = events_of(api, thread_id=thread["id"])
    assert events[-1]["type"] == "run.completed"
    assert events[-1]["data"]["object"]["status"] == "error"


def test_the_writer_takes_lambdas_event_shape(deployment: Deployment) -> None:
    # Given the events/ file of a thread header's change (its run completed), with the run's item stored
    event = load_event("record_events.json")
    change = event["Records"][0]["dynamodb"]
    header = change["NewImage"]
    run_item = {
        "pk": header["pk"],
        "sk": {"S": "RUN#0001"},
        "id": header["execution_name"],
        "thread_id": header["id"],
        "org_id": header["org_id"],
        "project_id": header["project_id"],
        "seq": {"N": "1"},
        "agent": header["type"],
        "status": {"S": "running"},
        "created_at": header["created_at"],
        "updated_at": header["created_at"],
    }
    import boto3

    boto3.client("dynamodb").put_item(TableName=deployment.threads_table, Item=run_item)

    # When RecordEventsFunction gets it
    reply = invoke("record_events", event)

    # Then it is one run.completed event, recorded, and no failure is reported
    assert reply == {"batchItemFailures": []}
    [recorded] = wiring.event_store().run_events("acme", header["execution_name"]["S"])
    body = json.loads(recorded.body)
    assert body["type"] == "run.completed"
    assert body["data"]["object"]["status"] == "completed"
    assert body["data"]["object"]["ended_at"] == "2026-11-22T09:30:04.000Z"


# ----- tenancy and bad input ----------------------------------------------------------------


def test_another_tenants_events_are_never_listed(api: Api, keys: Keys, approved_run: dict[str, Any]) -> None:
    globex = keys.create("globex")
    assert events_of(api, key=globex) == []
    assert events_of(api, key=globex, run_id=approved_run["id"]) == []
    assert events_of(api, key=globex, thread_id=approved_run["thread_id"]) == []
    assert events_of(api, key=globex, type="run.created") == []


def test_a_projects_key_lists_its_projects_events_only(api: Api, keys: Keys, approved_run: dict[str, Any]) -> None:
    other = keys.create("acme", project_id="other")
    assert events_of(api, key=other) == []
    assert events_of(api, key=other, run_id=approved_run["id"]) == []
    own = keys.create("acme", project_id=approved_run_project(api, approved_run))
    assert events_of(api, key=own) == events_of(api)


def approved_run_project(api: Api, run: dict[str, Any]) -> str:
    thread = api.call("GET", f"/v1/threads/{run['thread_id']}").json()
    return str(thread["project_id"])


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"type": "run.exploded"}, "type"),
        ({"after": "evt_12"}, "after"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"run_id": "r" * 129}, "run_id"),
        ({"after": "evt_" + "1" * 42, "cursor": "evt_" + "2" * 42}, "cursor"),
    ],
)
def test_a_bad_query_is_400_naming_it(api: Api, query: dict[str, str], parameter: str) -> None:
    reply = api.call("GET", "/v1/events", query=query)
    assert reply.status == 400, reply.body
    [error] = reply.json()["errors"]
    assert (error["code"], error["parameter"]) == ("invalid_parameter", parameter)


def test_unknown_ids_list_nothing(api: Api, approved_run: dict[str, Any]) -> None:
    assert events_of(api, run_id=UNKNOWN) == []
    assert events_of(api, thread_id=UNKNOWN) == []


def test_a_replayed_execution_is_no_event_and_the_run_goes_on_once(api: Api, deployment: Deployment) -> None:
    from threadline import clients

    from tests.conftest import describe_execution, poll
    from tests.integration.test_workflow import raw_item, step_key

    # Given a thread waiting for a human, and its events so far
    created = start_thread(api, "suspicious")
    wait_for_thread(api, deployment, created["id"], "interrupted")
    before = events_of(api, thread_id=created["id"])
    review_key = step_key(created["id"], 6, "human_review")
    first_token = raw_item(deployment, review_key)["task_token"]

    # When its execution's input runs again (every step record and the wait replay)
    execution_input = describe_execution(deployment, created["id"])["input"]
    clients.stepfunctions().start_execution(
        stateMachineArn=deployment.state_machine_arn, name="replay", input=execution_input
    )
    poll(lambda: raw_item(deployment, review_key), lambda item: item.get("task_token") != first_token)

    # Then the replay's writes are no event
    assert events_of(api, thread_id=created["id"]) == before

    # And when a person approves, the run resumes, finishes its review and completes, once each
    review = [e for e in before if e["type"] == "run.step_started" and e["data"]["object"]["name"] == "human_review"]
    review_id = review[0]["data"]["object"]["id"]
    reply = api.call("POST", f"/v1/threads/{created['id']}/steps/{review_id}/resolve", body={"decision": "approve"})
    assert reply.status == 200, reply.body
    wait_for_thread(api, deployment, created["id"], "completed")
    after = events_of(api, thread_id=created["id"])
    assert after[: len(before)] == before
    assert [event["type"] for event in after[len(before) :]] == ["run.resumed", "run.step_finished", "run.completed"]
