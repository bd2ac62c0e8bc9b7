"""Thread statuses move in one place (store.thread_status) and the state machine's own thread
writes carry the same conditions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from threadline.models.domain import ACTIVE_STATUSES, THREAD_STATUSES
from threadline.store.steps import OPEN_STEP_STATUSES
from threadline.store.thread_status import ALLOWED_FROM, ThreadStatusStore
from threadline_tools.template import ROOT

ASL = json.loads((ROOT / "statemachine" / "agent_workflow.asl.json").read_text())


def dynamodb_tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state.get("Type") == "Task" and ":dynamodb:" in state.get("Resource", ""):
            for item in state["Parameters"].get("TransactItems", []):  # each write of a transaction
                yield from ((name, write) for write in item.values())
            yield name, state["Parameters"]
        if "ItemProcessor" in state:
            yield from dynamodb_tasks(state["ItemProcessor"]["States"])


def condition_statuses(parameters: dict[str, Any]) -> set[str]:
    """The statuses a ``#status IN (...)`` condition admits."""
    match = re.fullmatch(
        r"#status IN \(([^)]*)\)( AND execution_name = :run)?", parameters.get("ConditionExpression", "")
    )
    assert match, parameters.get("ConditionExpression")
    values = parameters["ExpressionAttributeValues"]
    return {values[name.strip()]["S"] for name in match.group(1).split(",")}


def test_every_status_has_its_moves_and_no_final_status_is_ever_left() -> None:
    assert set(ALLOWED_FROM) == set(THREAD_STATUSES)
    for target, sources in ALLOWED_FROM.items():
        assert set(sources) <= ACTIVE_STATUSES, f"{target} may be reached from a final status"


def test_the_state_machines_thread_writes_allow_exactly_the_moves_of_the_store() -> None:
    thread_writes = [
        (name, p)
        for name, p in dynamodb_tasks(ASL["States"])
        if p.get("Key", {}).get("pk") == {"S.$": "$.thread_key.pk"}
    ]
    assert {name for name, _ in thread_writes} == {
        "RecordDecision",  # the thread's touch within the decision's record
        "RecordRunCompleted",
        "RecordRunFailed",
    }
    for name, parameters in thread_writes:
        final = parameters["ExpressionAttributeValues"].get(":final", {}).get("S")
        # A status move is allowed from where the store allows it; a touch only while the thread is active.
        expected = set(ALLOWED_FROM[final]) if final else ACTIVE_STATUSES  # type: ignore[index]
        assert condition_statuses(parameters) == expected, name
        # and only while the run is the thread's current one, as the agent function's writes
        assert parameters["ConditionExpression"].endswith(" AND execution_name = :run"), name
        assert parameters["ExpressionAttributeValues"][":run"] == {"S.$": "$.run.id"}, name


def test_the_state_machine_closes_only_open_steps_as_the_store_does() -> None:
    step_closes = [
        (name, p) for name, p in dynamodb_tasks(ASL["States"]) if p.get("Key") == "$.step.key" or "Key.$" in p
    ]
    assert {name for name, _ in step_closes} == {"RecordDecision", "RecordStepFailed"}
    for name, parameters in step_closes:
        # a decision completes only a waiting step; a failed wait closes an open one
        expected = {"waiting"} if name == "RecordDecision" else set(OPEN_STEP_STATUSES)
        assert condition_statuses(parameters) == expected, name


def test_a_move_item_is_conditional_on_the_allowed_statuses() -> None:
    # Given the transaction item that moves a thread to interrupted
    item = ThreadStatusStore(client=None, table="threads").move_item("acme", "t1", "interrupted")  # type: ignore[arg-type]

    # Then it sets the status and its listing partition, only from the allowed statuses
    update = item["Update"]
    assert update["Key"] == {"pk": {"S": "T#acme#t1"}, "sk": {"S": "THREAD"}}
    assert update["UpdateExpression"].startswith("SET #status = :status, gsi_status = :status_partition,")
    values = update["ExpressionAttributeValues"]
    assert values[":status"] == {"S": "interrupted"} and values[":status_partition"] == {"S": "acme#interrupted"}
    allowed = {values[name]["S"] for name in re.findall(r":from\d+", update["ConditionExpression"])}
    assert allowed == set(ALLOWED_FROM["interrupted"])
