"""Listing an org's runs: their entries follow the threads' stored changes (the indexer mirrors
each thread change onto its current run's entry) and are listed and counted by the threads'
indexes, at the cost of a thread list."""

from __future__ import annotations

from typing import Any

import pytest
from threadline import clients, wiring
from threadline.logic.delete_thread import delete_thread
from threadline.logic.restore_thread import restore_thread
from threadline.logic.runs import create_run, list_runs
from threadline.models.domain import NewRun, Tenant
from threadline.models.listing import PageRequest, RunFilter
from threadline.store import keys as store_keys
from threadline.store.items import serialize
from threadline_tools.provision import Deployment

from tests.conftest import Api, Seed, drain, start_thread, table_items, wait_for_thread

ACME = Tenant(org_id="acme", key_id="listkey00000", key_name="lister", scopes=frozenset({"read", "write"}))


def listed(wanted: RunFilter | None = None, page: PageRequest | None = None, tenant: Tenant = ACME) -> Any:
    drain()  # the indexer has applied every stored change (the lists are eventually consistent)
    return list_runs(
        tenant,
        wanted or RunFilter(org_id=tenant.org_id),
        page or PageRequest(with_total=True),
        store=wiring.thread_store(),
        runs=wiring.run_store(),
    )


def rerun(thread_id: str, **fields: Any) -> Any:
    return create_run(
        ACME,
        NewRun(type="cip_orchestrator", thread_id=thread_id, **fields),
        store=wiring.thread_store(),
        statuses=wiring.status_store(),
        runner=wiring.workflow_runner(),
        contexts=wiring.context_store(),
        runs=wiring.run_store(),
        workflow_type="STANDARD",
    )


@pytest.fixture
def runs(api: Api, deployment: Deployment) -> dict[str, Any]:
    """Two clean threads completed, one of them run twice; a suspicious one waiting for a person."""
    first = start_thread(api, "clean", "biz-a")
    second = start_thread(api, "clean", "biz-b")
    waiting = start_thread(api, "suspicious")
    wait_for_thread(api, deployment, first["id"], "completed")
    wait_for_thread(api, deployment, second["id"], "completed")
    wait_for_thread(api, deployment, waiting["id"], "interrupted")
    again = rerun(first["id"])
    wait_for_thread(api, deployment, first["id"], "completed")
    return {"first": first, "second": second, "waiting": waiting, "again": again}


def test_the_orgs_runs_are_listed_newest_first_and_counted(runs: dict[str, Any], stop_leftovers: None) -> None:
    page = listed()

    assert [r.thread_id for r in page.runs] == [
        runs["first"]["id"],  # its second run, the newest
        runs["waiting"]["id"],
        runs["second"]["id"],
        runs["first"]["id"],
    ]
    assert page.runs[0].id == runs["again"].id and page.runs[0].seq == 2
    assert [r.status for r in page.runs] == ["completed", "interrupted", "completed", "completed"]
    assert page.total_count == 4 and page.has_more is False


def test_filters_by_status_agent_and_thread_are_counted(runs: dict[str, Any], stop_leftovers: None) -> None:
    completed = listed(RunFilter(org_id="acme", status="completed"))
    assert (len(completed.runs), completed.total_count) == (3, 3)
    interrupted = listed(RunFilter(org_id="acme", status="interrupted"))
    assert [r.thread_id for r in interrupted.runs] == [runs["waiting"]["id"]]
    assert listed(RunFilter(org_id="acme", agent="cip_orchestrator")).total_count == 4
    assert listed(RunFilter(org_id="acme", agent="other")).total_count == 0
    mine = listed(RunFilter(org_id="acme", thread_id=runs["first"]["id"]))
    assert [r.seq for r in mine.runs] == [2, 1] and mine.total_count == 2


def test_cursor_pages_visit_every_run_once(runs: dict[str, Any], stop_leftovers: None) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = listed(page=PageRequest(limit=3, cursor=cursor, descending=False))
        seen += [r.id for r in page.runs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 4 and len(set(seen)) == 4
    assert seen == [r.id for r in reversed(listed().runs)]


def test_another_org_and_another_project_see_no_run(runs: dict[str, Any], stop_leftovers: None) -> None:
    other = Tenant(org_id="globex", key_id="otherkey0000", scopes=frozenset({"read"}))
    assert listed(RunFilter(org_id="globex"), tenant=other).runs == []
    assert listed(RunFilter(org_id="acme"), tenant=other).runs == []
    restricted = ACME.model_copy(update={"project_id": "alpha"})
    assert listed(RunFilter(org_id="acme"), tenant=restricted).total_count == 0


def test_a_deleted_threads_runs_leave_the_list_and_come_back_with_it(
    runs: dict[str, Any], stop_leftovers: None
) -> None:
    thread_id = runs["first"]["id"]
    delete_thread(
        ACME, thread_id, store=wiring.thread_store(), steps=wiring.step_store(), runner=wiring.workflow_runner()
    )
    page = listed()
    assert thread_id not in [r.thread_id for r in page.runs] and page.total_count == 2

    restore_thread(ACME, thread_id, store=wiring.thread_store())
    page = listed()
    assert [r.thread_id for r in page.runs].count(thread_id) == 2 and page.total_count == 4


def test_a_thread_from_before_runs_is_listed_as_one_run(seed: Seed, deployment: Deployment) -> None:
    thread = seed.thread(status="completed")
    page = listed()
    assert [(r.id, r.thread_id, r.seq, r.status) for r in page.runs] == [(thread.id, thread.id, 0, "completed")]


def test_a_purged_thread_takes_its_runs_entries_and_counts(seed: Seed, deployment: Deployment) -> None:
    thread = seed.thread(status="completed")
    assert listed().total_count == 1
    # When DynamoDB's TTL purges the thread (its header deleted)
    clients.dynamodb().delete_item(
        TableName=deployment.threads_table, Key=serialize(store_keys.thread_key("acme", thread.id))
    )
    page = listed()
    assert (page.runs, page.total_count) == ([], 0)
    entry = clients.dynamodb().get_item(
        TableName=deployment.threads_table, Key=serialize(store_keys.run_entry_key("acme", thread.id))
    )
    assert "Item" not in entry


def test_a_purged_thread_from_before_runs_run_again_takes_every_entry(
    api: Api, seed: Seed, deployment: Deployment
) -> None:
    # Given a thread from before runs (its run named after it) that was run again
    seed.business("biz-1")
    thread = seed.thread(status="completed")
    rerun(thread.id)
    wait_for_thread(api, deployment, thread.id, "completed")
    assert listed().total_count == 2

    # When DynamoDB's TTL purges it
    clients.dynamodb().delete_item(
        TableName=deployment.threads_table, Key=serialize(store_keys.thread_key("acme", thread.id))
    )

    # Then both runs' entries and counts go with it (the first run's entry is named as the thread)
    page = listed()
    assert (page.runs, page.total_count) == ([], 0)
    # (what stays is what stays of any purged thread: counters at 0, the indexer's tombstones)
    left = [i for i in table_items(deployment) if thread.id in i["pk"]["S"]]
    assert [i for i in left if not i["pk"]["S"].startswith("N#") and i["sk"]["S"] != "INDEXED"] == []
