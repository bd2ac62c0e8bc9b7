"""The plan a thread's execution runs: AgentType.stages and execution_input."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from threadline.models.domain import Thread
from threadline.models.workflow import RunRef
from threadline.store import keys as store_keys
from threadline.store.attributes import TypeDeserializer
from threadline.store.items import step_from_item
from threadline.store.plan import step_id
from threadline.workflow.agent_types import CIP_ORCHESTRATOR, AgentType, Condition, StepDefinition

from tests.conftest import execution_input, load_event

THREAD_ID = "0b9f6c2e-6f2a-4c5e-9a51-6d1f0f3c2a7b"
RUN_ID = "5d0c3a8e-2b7f-4e51-9c3d-7a6b1e0f4c29"
RUN = RunRef(id=RUN_ID, seq=1)
PK = f"T#acme#{THREAD_ID}"


def a_thread(thread_id: str = THREAD_ID, **fields: Any) -> Thread:
    values: dict[str, Any] = {
        "id": thread_id,
        "type": "cip_orchestrator",
        "status": "running",
        "org_id": "acme",
        "project_id": "default",
        "context_type": "business",
        "context_id": "biz_123",
        "created_at": "2024-01-15T09:30:00.000Z",
        "updated_at": "2024-01-15T09:30:00.000Z",
        "run_id": RUN_ID,
        "run_seq": 1,
        **fields,
    }
    return Thread(**values)


def step(name: str, group: str | None = None) -> StepDefinition:
    return StepDefinition(name, name.title(), agent=f"test.{name}", parallel_group=group)


def names(agent: AgentType) -> list[list[str]]:
    return [[s.name for s in stage] for stage in agent.stages()]


# ----- stages --------------------------------------------------------------------------------------


def test_cip_orchestrator_runs_the_checks_together_between_the_record_and_the_decision() -> None:
    assert names(CIP_ORCHESTRATOR) == [
        ["business_record"],
        ["tin_check", "address_check", "watchlist_screening"],
        ["decision"],
        ["human_review"],
    ]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([step("a"), step("b")], [["a"], ["b"]], id="no-groups"),
        pytest.param([step("a", "g"), step("b", "g")], [["a", "b"]], id="one-group-first"),
        pytest.param([step("a", "g")], [["a"]], id="a-group-of-one"),
        pytest.param(
            [step("a", "g"), step("b", "g"), step("c", "h"), step("d", "h")],
            [["a", "b"], ["c", "d"]],
            id="adjacent-groups-stay-apart",
        ),
        pytest.param(
            [step("a", "g"), step("b"), step("c", "g")],
            [["a"], ["b"], ["c"]],
            id="a-group-split-by-a-step-is-two-stages",
        ),
        pytest.param([step("a"), step("b", "g"), step("c", "g"), step("d")], [["a"], ["b", "c"], ["d"]], id="middle"),
    ],
)
def test_stages_group_consecutive_steps_of_one_parallel_group(
    steps: list[StepDefinition], expected: list[list[str]]
) -> None:
    agent = AgentType("t", "test", ("business",), tuple(steps))
    assert names(agent) == expected


def test_stages_keep_every_step_once_in_definition_order() -> None:
    flat = [s for stage in CIP_ORCHESTRATOR.stages() for s in stage]
    assert flat == list(CIP_ORCHESTRATOR.steps)


# ----- execution_input -----------------------------------------------------------------------------


def test_the_plan_carries_the_thread_its_key_and_its_status_partitions() -> None:
    plan = execution_input(a_thread(), CIP_ORCHESTRATOR)

    assert set(plan) == {"thread", "run", "thread_key", "status_partitions", "stages"}
    # (the request that starts it adds its correlation id: WorkflowRunner.start)
    assert plan["run"] == {"id": RUN_ID, "seq": 1, "interrupt_policy": "manual", "input": None, "correlation_id": None}
    assert plan["thread"] == {
        "id": THREAD_ID,
        "type": "cip_orchestrator",
        "org_id": "acme",
        "project_id": "default",
        "context_type": "business",
        "context_id": "biz_123",
    }
    assert plan["thread_key"] == {"pk": PK, "sk": "THREAD"}
    assert plan["status_partitions"] == {
        status: f"acme#{status}" for status in ("running", "interrupted", "completed", "failed", "cancelled")
    }


def test_the_plan_never_carries_user_data_or_metadata() -> None:
    # The execution input is visible in Step Functions' console and history: user_data is encrypted at rest
    plan = json.dumps(execution_input(a_thread(user_data="secret", metadata={"crm": "x"}), CIP_ORCHESTRATOR))
    assert "secret" not in plan
    assert "crm" not in plan


def test_each_planned_step_has_its_key_id_parent_and_first_item() -> None:
    plan = execution_input(a_thread(), CIP_ORCHESTRATOR)
    planned = [s for stage in plan["stages"] for s in stage]
    ids = {s.name: step_id(THREAD_ID, s.name, RUN) for s in CIP_ORCHESTRATOR.steps}

    assert [len(stage) for stage in plan["stages"]] == [1, 3, 1, 1]
    expected_parents = {
        "business_record": None,
        "tin_check": "business_record",
        "address_check": "business_record",
        "watchlist_screening": "business_record",
        "decision": None,
        "human_review": "decision",
    }
    for position, (planned_step, definition) in enumerate(zip(planned, CIP_ORCHESTRATOR.steps, strict=True), 1):
        sk = f"STEP#R0001#{position:03d}#{definition.name}"
        parent = expected_parents[definition.name]
        assert planned_step == {
            "name": definition.name,
            "agent": definition.agent,
            "type": definition.type,
            "timeout_seconds": definition.timeout_seconds,
            "condition": (
                {"step": "decision", "key": "decision", "equals": "review"}
                if definition.name == "human_review"
                else None
            ),
            # a manual run's interrupt step waits for a human, who is proposed the decision step's pick
            "wait": definition.name == "human_review",
            "proposal": {"step": "decision", "key": "proposed"} if definition.name == "human_review" else None,
            "key": {"pk": {"S": PK}, "sk": {"S": sk}},
            "item": {
                "pk": {"S": PK},
                "sk": {"S": sk},
                "id": {"S": ids[definition.name]},
                "run_id": {"S": RUN_ID},
                "type": {"S": definition.type},
                "name": {"S": definition.name},
                "label": {"S": definition.label},
                "agent": {"S": definition.agent},
                "parent_step_id": {"S": ids[parent]} if parent else {"NULL": True},
                "status": {"S": "running"},
                "artifacts_json": {"S": "[]"},
            },
        }, definition.name
    assert planned[-1]["type"] == "interrupt"
    assert planned[-1]["timeout_seconds"] == 7 * 24 * 3600


def test_step_sort_keys_order_the_steps_as_the_plan_does() -> None:
    plan = execution_input(a_thread(), CIP_ORCHESTRATOR)
    sort_keys = [s["key"]["sk"]["S"] for stage in plan["stages"] for s in stage]
    assert sort_keys == sorted(sort_keys)
    assert len(set(sort_keys)) == len(sort_keys)


def test_step_ids_and_keys_are_fixed_by_thread_run_and_step_so_a_replay_writes_the_same_step() -> None:
    first = execution_input(a_thread(), CIP_ORCHESTRATOR)
    again = execution_input(a_thread(), CIP_ORCHESTRATOR)
    other = execution_input(a_thread(str(uuid.uuid4())), CIP_ORCHESTRATOR)
    rerun = execution_input(a_thread(run_id=str(uuid.uuid4()), run_seq=2), CIP_ORCHESTRATOR)

    def ids(plan: dict[str, Any]) -> list[str]:
        return [s["item"]["id"]["S"] for stage in plan["stages"] for s in stage]

    def sort_keys(plan: dict[str, Any]) -> list[str]:
        return [s["key"]["sk"]["S"] for stage in plan["stages"] for s in stage]

    assert first == again
    assert len(set(ids(first))) == 6
    assert all(str(uuid.UUID(i)) == i for i in ids(first))
    assert set(ids(first)).isdisjoint(ids(other))
    # a re-run of the thread writes other steps, sorting after the first run's
    assert set(ids(first)).isdisjoint(ids(rerun))
    assert max(sort_keys(first)) < min(sort_keys(rerun))


def test_a_thread_from_before_runs_keeps_its_step_ids_and_keys() -> None:
    # Its one run is named after it (seq 0): a replay of its execution meets the steps it wrote
    legacy = execution_input(a_thread(run_id=None, run_seq=0), CIP_ORCHESTRATOR)
    [record] = legacy["stages"][0]
    assert record["key"]["sk"] == {"S": "STEP#001#business_record"}
    assert record["item"]["id"] == {"S": str(uuid.uuid5(uuid.NAMESPACE_URL, f"threadline:{THREAD_ID}:business_record"))}
    assert legacy["run"]["id"] == THREAD_ID
    # and its steps sort before any later run's
    assert store_keys.step_sk(1, "a", run_seq=1) > "STEP#999#x"


def test_a_planned_item_with_the_state_machines_stamp_reads_back_as_a_running_step() -> None:
    # Given the first step's item as its start writes it (the plan's item, started)
    plan = execution_input(a_thread(), CIP_ORCHESTRATOR)
    tin = plan["stages"][1][0]
    stamp = {"started_at": {"S": "2024-01-15T09:30:01.123Z"}}
    item = {k: TypeDeserializer().deserialize(v) for k, v in {**tin["item"], **stamp}.items()}

    # When it is read as a step
    got = step_from_item(item)

    # Then it is the running TIN check, child of the business record
    assert got.model_dump() == {
        "id": step_id(THREAD_ID, "tin_check", RUN),
        "run_id": RUN_ID,
        "type": "activity",
        "name": "tin_check",
        "label": "TIN format and validity",
        "status": "running",
        "started_at": "2024-01-15T09:30:01.123Z",
        "completed_at": None,
        "agent": "cip.tin_check",
        "parent_step_id": step_id(THREAD_ID, "business_record", RUN),
        "artifacts": [],
        "output": None,
        "error": None,
        "resolution": None,
    }


def test_the_events_files_carry_the_plan_execution_input_makes() -> None:
    # (events/reconcile_thread.json and run_agent.json are what `sam local invoke` feeds the functions)
    plan = execution_input(a_thread(), CIP_ORCHESTRATOR)
    plan["run"]["correlation_id"] = load_event("create_thread.json")["requestContext"]["requestId"]
    reconcile = load_event("reconcile_thread.json")
    run_agent = load_event("run_agent.json")

    assert json.loads(reconcile["detail"]["input"]) == plan
    assert run_agent["thread"] == plan["thread"]
    assert run_agent["run"] == plan["run"]
    assert run_agent["step"] == plan["stages"][1][0]


def test_the_plan_is_small_enough_for_step_functions() -> None:
    # Step Functions limits an execution's input to 256 KB
    plan = execution_input(a_thread(), CIP_ORCHESTRATOR)
    assert len(json.dumps(plan).encode()) < 256 * 1024 // 10


def test_a_condition_is_planned_as_a_plain_object() -> None:
    agent = AgentType(
        "t",
        "test",
        ("business",),
        (step("a"), StepDefinition("b", "B", agent="test.b", when=Condition(step="a", key="ok", equals=True))),
    )
    plan = execution_input(a_thread(type="t"), agent)
    assert [s["condition"] for stage in plan["stages"] for s in stage] == [
        None,
        {"step": "a", "key": "ok", "equals": True},
    ]
