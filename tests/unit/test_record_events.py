"""Which stored changes are events (logic.record_events), record by record."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from threadline.api.native.events import wire_object
from threadline.logic.record_events import ThreadReader, events_of
from threadline.models.domain import Run
from threadline.store import keys
from threadline.store.items import serialize

from tests.conftest import load_event


class Stored(ThreadReader):
    """The thread as the writer would read it (its header and run items), with no table."""

    def __init__(self, header: dict[str, Any] | None, runs: list[Run]) -> None:
        self._header, self._stored_runs = header, runs

    def project(self, org_id: str, thread_id: str) -> str | None:
        return str(self._header["project_id"]) if self._header is not None else None

    def runs(self, org_id: str, thread_id: str) -> list[Run]:
        return self._stored_runs


def header_change() -> dict[str, Any]:
    return load_event("record_events.json")["Records"][0]


def plain(image: dict[str, Any]) -> dict[str, Any]:
    from threadline.store.items import deserialize

    return deserialize(image)


def test_event_ids_increase_with_the_sequence_number_then_the_position() -> None:
    ids = [keys.event_id("9", 0), keys.event_id("9", 1), keys.event_id("10", 0), keys.event_id("1" * 40, 99)]
    assert ids == sorted(ids)
    assert all(len(i) == 46 and i.startswith("evt_") for i in ids)
    for bad in (("12a", 0), ("1" * 41, 0), ("1", 100), ("1", -1)):
        with pytest.raises(ValueError):
            keys.event_id(*bad)


def test_a_header_change_that_moves_no_status_and_no_deletion_is_no_event() -> None:
    record = header_change()
    record["dynamodb"]["NewImage"]["status"] = record["dynamodb"]["OldImage"]["status"]
    assert events_of(record, Stored(None, []), wire_object) == []


def test_a_run_entry_an_index_item_a_purge_and_a_new_header_are_no_event() -> None:
    entry = header_change()
    entry["dynamodb"]["Keys"]["pk"] = {"S": "T#acme~runs#5d2e8a41-7c3b-4f0e-9b6a-2c1d0e9f8a7b"}
    purge = header_change()
    del purge["dynamodb"]["NewImage"]
    created = header_change()
    del created["dynamodb"]["OldImage"]
    index = header_change()
    index["dynamodb"]["Keys"]["pk"] = {"S": "N#acme#org"}
    for record in (entry, purge, created, index):
        assert events_of(record, Stored(None, []), wire_object) == []


def test_a_finished_run_becomes_run_completed_with_the_run_as_the_header_shows_it() -> None:
    # (the run's item missing: the run as far as the header tells it)
    [event] = events_of(header_change(), Stored(None, []), wire_object)
    body = json.loads(event.body)
    assert (event.type, event.run_id, event.project_id) == (
        "run.completed",
        "5d2e8a41-7c3b-4f0e-9b6a-2c1d0e9f8a7b",
        "default",
    )
    assert body["data"]["object"]["status"] == "completed"
    assert event.id == keys.event_id("1100000000017454423015", 0)


def test_a_deletion_that_cancels_the_run_is_two_events_in_that_order() -> None:
    record = header_change()
    new = record["dynamodb"]["NewImage"]
    new["status"] = {"S": "cancelled"}
    new["deleted"] = {"BOOL": True}
    new["deleted_at"] = {"S": "2026-11-22T09:30:04.000Z"}
    events = events_of(record, Stored(None, []), wire_object)
    assert [e.type for e in events] == ["run.cancelled", "thread.deleted"]
    assert [e.id[-2:] for e in events] == ["00", "01"]


def step_record(old_status: str | None, new_status: str, with_run: bool = True) -> dict[str, Any]:
    header = plain(header_change()["dynamodb"]["NewImage"])
    step = {
        "pk": header["pk"],
        "sk": "STEP#R0001#001#business_record",
        "id": "c87ae3e5-f0d2-55f9-b9b0-1504618ee634",
        "name": "business_record",
        "status": new_status,
        "started_at": "2026-11-22T09:30:01.000Z",
        "completed_at": "2026-11-22T09:30:02.000Z",
    }
    if with_run:
        step["run_id"] = "5d2e8a41-7c3b-4f0e-9b6a-2c1d0e9f8a7b"
    change: dict[str, Any] = {
        "Keys": serialize({"pk": step["pk"], "sk": step["sk"]}),
        "NewImage": serialize(step),
        "SequenceNumber": "200",
    }
    if old_status is not None:
        change["OldImage"] = serialize({**step, "status": old_status})
    return {"eventName": "MODIFY" if old_status else "INSERT", "dynamodb": change}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, "running", ["run.step_started"]),
        (None, "waiting", ["run.step_started"]),
        (None, "completed", ["run.step_started", "run.step_finished"]),  # decided by policy: put closed
        ("running", "completed", ["run.step_finished"]),
        ("waiting", "cancelled", ["run.step_finished"]),
        ("running", "running", []),  # a replayed write
        ("waiting", "waiting", []),  # a new task token
        ("completed", "completed", []),
    ],
)
def test_a_steps_changes(old: str | None, new: str, expected: list[str]) -> None:
    header = plain(header_change()["dynamodb"]["NewImage"])
    assert [e.type for e in events_of(step_record(old, new), Stored(header, []), wire_object)] == expected


def test_a_step_of_a_purged_thread_is_no_event_and_a_step_from_before_runs_is_its_threads_runs() -> None:
    header = plain(header_change()["dynamodb"]["NewImage"])
    assert events_of(step_record(None, "running"), Stored(None, []), wire_object) == []
    [event] = events_of(step_record(None, "running", with_run=False), Stored(copy.deepcopy(header), []), wire_object)
    assert event.run_id == header["id"]


def test_a_step_too_big_for_an_event_item_is_recorded_without_its_bulk() -> None:
    # Given a step finishing with artifacts of ~350 KB
    record = step_record("running", "completed")
    record["dynamodb"]["NewImage"]["artifacts_json"] = {
        "S": json.dumps([{"title": "page", "type": "scan", "content": "x" * 350_000}])
    }
    header = plain(header_change()["dynamodb"]["NewImage"])

    # Then its event leaves the artifacts out and says so
    [event] = events_of(record, Stored(header, []), wire_object)
    step = json.loads(event.body)["data"]["object"]
    assert len(event.body) < 5_000
    assert step["truncated"] is True and "artifacts" not in step
    assert (step["name"], step["status"]) == ("business_record", "completed")
