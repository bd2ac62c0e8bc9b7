"""store/keys.py: the one place key strings are built, and the template's indexes that serve them."""

from __future__ import annotations

import pytest
from threadline.store import keys
from threadline_tools.template import resources


def test_a_thread_and_its_steps_share_one_partition_scoped_by_org() -> None:
    # When the keys of a thread and of its step are built
    thread = keys.thread_key("acme", "t-1")
    step = keys.step_sk(1, "business_record")

    # Then the thread partition carries the org, and the step sorts under the same partition
    assert thread == {"pk": "T#acme#t-1", "sk": "THREAD"}
    assert keys.thread_pk("acme", "t-1") == thread["pk"]
    assert step == "STEP#001#business_record"
    assert step.startswith(keys.STEP_SK_PREFIX) and not keys.THREAD_SK.startswith(keys.STEP_SK_PREFIX)


def test_another_orgs_thread_key_never_collides() -> None:
    # Given the same thread id under two orgs
    # Then their partitions differ
    assert keys.thread_pk("acme", "t-1") != keys.thread_pk("globex", "t-1")


def test_steps_sort_in_plan_order_whatever_their_names() -> None:
    # Given steps at increasing plan positions (names in the opposite order), past 9 and 99
    sks = [keys.step_sk(position, name) for position, name in [(2, "z"), (9, "m"), (10, "b"), (100, "a")]]

    # Then their sort keys sort the same way
    assert sorted(sks) == sks


def test_every_dimension_partition_starts_with_the_org() -> None:
    # Given a thread's listing coordinates
    dims = keys.ThreadDimensions(
        org_id="acme",
        status="running",
        type="cip_orchestrator",
        context_type="business",
        context_id="b-1",
        project_id="default",
    )

    # When its GSI attributes are built
    attributes = dims.attributes()

    # Then every partition is scoped by the org, so no list can reach another tenant
    assert attributes == {
        "gsi_org": "acme",
        "gsi_status": "acme#running",
        "gsi_type": "acme#cip_orchestrator",
        "gsi_context": "acme#business#b-1",
        "gsi_project": "acme#default",
    }
    # (metadata items carry the sixth, gsi_meta: "<org>#<pair digest>")
    assert set(attributes) == set(keys.DIMENSION_ATTRIBUTES.values()) - {"gsi_meta"}
    assert keys.dimension_partition("metadata", "acme", "d1gest") == "acme#d1gest"


def test_a_deleted_thread_sits_in_the_deleted_twin_of_every_partition() -> None:
    # Given a deleted thread's listing coordinates
    dims = keys.ThreadDimensions("acme", "cancelled", "cip_orchestrator", "business", "b-1", "default", deleted=True)

    # Then every partition ends in #deleted (still scoped by the org), out of the way of live lists
    assert dims.attributes() == {
        "gsi_org": "acme#deleted",
        "gsi_status": "acme#cancelled#deleted",
        "gsi_type": "acme#cip_orchestrator#deleted",
        "gsi_context": "acme#business#b-1#deleted",
        "gsi_project": "acme#default#deleted",
    }


def test_a_thread_counts_in_one_stable_shard_of_each_counter() -> None:
    # Given a thread id
    # Then its shard is stable, within range, and counters are named by dimension and value
    assert keys.counter_shard("t-1") == keys.counter_shard("t-1")
    assert {keys.counter_shard(f"t-{i}") for i in range(200)} == set(range(keys.COUNTER_SHARDS))
    dims = keys.ThreadDimensions("acme", "running", "cip_orchestrator", "business", "b-1", "default")
    assert dims.counters() == [
        "org",
        "status#running",
        "type#cip_orchestrator",
        "context#business#b-1",
        "project#default",
    ]
    assert keys.counter_pk("acme", "status#running") == "N#acme#status#running"


@pytest.mark.parametrize(
    ("dimension", "sort", "name"),
    [("org", "created_at", "by_org_created"), ("status", "updated_at", "by_status_updated")],
)
def test_index_names(dimension: keys.Dimension, sort: keys.SortField, name: str) -> None:
    assert keys.index_name(dimension, sort) == name


def test_every_index_the_store_queries_exists_in_the_template_as_designed() -> None:
    # Given the threads table of template.yaml
    props = resources("AWS::DynamoDB::Table")["ThreadsTableV2"]["Properties"]
    declared = {
        index["IndexName"]: (
            next(k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "HASH"),
            next(k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "RANGE"),
            index["Projection"]["ProjectionType"],
        )
        for index in props["GlobalSecondaryIndexes"]
    }

    # When the key design lists its indexes
    designed = {name: (partition, sort, "KEYS_ONLY") for name, partition, sort in keys.all_index_names()}

    # Then the template declares exactly those, with the same keys, and the table's own keys match
    assert declared == designed
    assert {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    attribute_types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    used = {"pk", "sk"} | {attr for _, partition, sort in keys.all_index_names() for attr in (partition, sort)}
    assert attribute_types == dict.fromkeys(used, "S")


def test_the_keys_table_indexes_exist_in_the_template() -> None:
    # Given the keys table of template.yaml
    props = resources("AWS::DynamoDB::Table")["KeysTable"]["Properties"]
    names = {index["IndexName"] for index in props["GlobalSecondaryIndexes"]}

    # Then the indexes the key store queries are declared
    assert {keys.KEYS_BY_ORG_INDEX, keys.KEYS_BY_ID_INDEX} <= names
    assert props["KeySchema"] == [{"AttributeName": "key_hash", "KeyType": "HASH"}]
