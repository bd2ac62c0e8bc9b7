"""Upgrading a deployed stack: a V1 threads table copied into the current design, and the index
rebuilt in place (tools/threadline_tools/migrate.py, docs/deploy.md)."""

from __future__ import annotations

import json
from typing import Any

from threadline import clients, wiring
from threadline.logic.runs import list_runs
from threadline.models.domain import Tenant
from threadline.models.listing import PageRequest, RunFilter
from threadline.store.contexts import ContextStore
from threadline.store.items import serialize
from threadline_tools.migrate import main as migrate

from tests.conftest import Api, Deployment, drain, sample_business, stamp, table_items

OLD = "threadline-v1-threads"
T1, T2, T3 = (f"00000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))


def _v1_table() -> None:
    clients.dynamodb().create_table(
        TableName=OLD,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _v1_thread(
    thread_id: str, minute: int, *, deleted: bool = False, user_data: str | None = None, **fields: Any
) -> None:
    """A thread item as the previous version stored it: user_data inline, partitions without twins."""
    status = "cancelled" if deleted else fields.pop("status", "completed")
    item: dict[str, Any] = {
        "pk": f"T#acme#{thread_id}",
        "sk": "THREAD",
        "id": thread_id,
        "type": "cip_orchestrator",
        "status": status,
        "org_id": "acme",
        "project_id": "default",
        "context_type": "business",
        "context_id": "biz-1",
        "created_at": stamp(minute),
        "updated_at": stamp(minute),
        "deleted": deleted,
        "version": 3,
        "execution_name": thread_id,
        "gsi_org": "acme",
        "gsi_status": f"acme#{status}",
        "gsi_type": "acme#cip_orchestrator",
        "gsi_context": "acme#business#biz-1",
        "gsi_project": "acme#default",
        **fields,
    }
    if user_data is not None:
        item["user_data_enc"] = wiring.thread_store()._cipher.encrypt("acme", thread_id, user_data)
    clients.dynamodb().put_item(TableName=OLD, Item=serialize(item))


def test_a_v1_table_is_copied_and_indexed(api: Api, deployment: Deployment) -> None:
    # Given a V1 table with threads (one with user data, one deleted), a step and a context
    _v1_table()
    _v1_thread(T1, 1, user_data="secret notes", metadata={"tier": "gold", "crm": {"region": "eu"}})
    _v1_thread(T2, 2, metadata={"tier": "silver"}, status="running")
    _v1_thread(T3, 3, deleted=True, deleted_at=stamp(4), deleted_by="k", metadata={"tier": "gold"})
    step = {"pk": f"T#acme#{T1}", "sk": "STEP#001#business_record", "id": "s-1", "name": "business_record"}
    step.update({"run_id": T1, "status": "completed", "started_at": stamp(1), "artifacts_json": "[]"})
    clients.dynamodb().put_item(TableName=OLD, Item=serialize(step))
    ContextStore(clients.dynamodb(), OLD).put("acme", "business", "biz-1", json.dumps(sample_business()), stamp(0))

    # When it is migrated into the deployment's table (the stream indexer running alongside)
    assert migrate(["--table", deployment.threads_table, "--from-table", OLD]) == 0
    drain()

    # Then threads read as before, user data from its own item, and every list and count works
    thread = api.call("GET", f"/v1/threads/{T1}").json()
    assert (thread["user_data"], [s["name"] for s in thread["steps"]]) == ("secret notes", ["business_record"])
    listed = api.call("GET", "/v1/threads").json()
    assert ([t["id"] for t in listed["data"]], listed["total_count"]) == ([T2, T1], 2)
    gold = api.call("GET", "/v1/threads", query={"metadata": json.dumps({"crm": {"region": "eu"}})}).json()
    assert [t["id"] for t in gold["data"]] == [T1]
    everything = api.call("GET", "/v1/threads", query={"include_deleted": "true", "metadata": '{"tier": "gold"}'})
    assert (everything.json()["total_count"], [t["id"] for t in everything.json()["data"]]) == (2, [T3, T1])
    assert api.call("GET", "/v1/contexts/business/biz-1").status == 200
    # and no header keeps its user data inline
    assert not [i for i in table_items(deployment) if i["sk"]["S"] == "THREAD" and "user_data_enc" in i]
    # And each thread from before runs is listed as its one run, named after it (a deleted one's is not)
    drain()
    runs = list_runs(
        Tenant(org_id="acme", key_id="migrate00000", scopes=frozenset({"read"})),
        RunFilter(org_id="acme"),
        PageRequest(with_total=True),
        store=wiring.thread_store(),
        runs=wiring.run_store(),
    )
    assert ([(r.id, r.seq, r.status) for r in runs.runs], runs.total_count) == (
        [(T2, 0, "running"), (T1, 0, "completed")],
        2,
    )


def test_rebuild_repairs_a_counter_that_drifted(api: Api, deployment: Deployment) -> None:
    # Given an indexed V1 copy whose org counter was damaged (e.g. a record lost past 24 h)
    _v1_table()
    _v1_thread(T1, 1)
    _v1_thread(T2, 2)
    migrate(["--table", deployment.threads_table, "--from-table", OLD])
    drain()
    clients.dynamodb().put_item(
        TableName=deployment.threads_table, Item=serialize({"pk": "N#acme#org", "sk": "live#0", "n": 40})
    )
    assert api.call("GET", "/v1/threads").json()["total_count"] != 2

    # When the index is rebuilt
    assert migrate(["--table", deployment.threads_table, "--rebuild"]) == 0

    # Then the count is exact again
    assert api.call("GET", "/v1/threads").json()["total_count"] == 2


def test_rebuild_sweeps_what_a_failed_purge_left(api: Api, deployment: Deployment) -> None:
    # Given a thread whose header was purged while the indexer was failing: its user data stayed
    _v1_table()
    _v1_thread(T1, 1, user_data="secret notes")
    _v1_thread(T2, 2)
    migrate(["--table", deployment.threads_table, "--from-table", OLD])
    drain()
    header = {"pk": {"S": f"T#acme#{T1}"}, "sk": {"S": "THREAD"}}
    clients.dynamodb().delete_item(TableName=deployment.threads_table, Key=header)  # stream not delivered

    # When the index is rebuilt
    migrate(["--table", deployment.threads_table, "--rebuild"])

    # Then nothing of the purged thread is left, and the count is right
    assert not [i for i in table_items(deployment) if i["pk"]["S"] == f"T#acme#{T1}"]
    assert api.call("GET", "/v1/threads").json()["total_count"] == 1


def test_copying_again_never_rolls_a_newer_header_back(api: Api, deployment: Deployment) -> None:
    # Given a copied thread that has moved on since (version 4)
    _v1_table()
    _v1_thread(T1, 1, status="running")
    migrate(["--table", deployment.threads_table, "--from-table", OLD])
    assert wiring.status_store().move("acme", T1, "completed")

    # When the copy runs again
    migrate(["--table", deployment.threads_table, "--from-table", OLD])

    # Then the newer header stays
    assert api.call("GET", f"/v1/threads/{T1}").json()["status"] == "completed"
