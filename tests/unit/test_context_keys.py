"""Context documents: their key design (store/keys.py) and the IAM that confines functions to it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from threadline.store import keys
from threadline_tools.local import SAMPLE_BUSINESS
from threadline_tools.template import resources

from tests.conftest import load_event

CONTEXT_FUNCTIONS = {
    "PutContextFunction": "dynamodb:UpdateItem",
    "GetContextFunction": "dynamodb:GetItem",
    "DeleteContextFunction": "dynamodb:DeleteItem",
}


def test_a_context_key_is_scoped_by_org_type_and_id() -> None:
    # When the key of a business context is built
    key = keys.context_key("acme", "business", "biz-1")

    # Then its partition carries the org, the type and the id, under the context prefix
    assert key == {"pk": "C#acme#business#biz-1", "sk": "CONTEXT"}
    assert key["pk"].startswith(keys.CONTEXT_PK_PREFIX)


def test_context_keys_never_collide_with_each_other_or_with_threads() -> None:
    # Given the same id under two orgs, two types, and as a thread id
    pks = {
        keys.context_key("acme", "business", "x-1")["pk"],
        keys.context_key("globex", "business", "x-1")["pk"],
        keys.context_key("acme", "person", "x-1")["pk"],
        keys.thread_pk("acme", "x-1"),
    }

    # Then every partition differs, and no thread partition has the context prefix
    assert len(pks) == 4
    assert not keys.thread_pk("acme", "x-1").startswith(keys.CONTEXT_PK_PREFIX)


def _statements(function: str) -> list[dict[str, Any]]:
    props = resources("AWS::Serverless::Function")[function]["Properties"]
    return [s for policy in props.get("Policies", []) for s in policy.get("Statement", [])]


def _threads_table_statements(function: str) -> list[dict[str, Any]]:
    """The statements on the threads table (an Idempotency-Key's records are elsewhere)."""
    return [s for s in _statements(function) if "ThreadsTableV2" in json.dumps(s["Resource"])]


@pytest.mark.parametrize(("function", "action"), sorted(CONTEXT_FUNCTIONS.items()))
def test_each_context_function_may_do_one_thing_to_context_items_only(function: str, action: str) -> None:
    # Given the function's IAM statements on the threads table in template.yaml
    [statement] = _threads_table_statements(function)

    # Then it is one action on the threads table, restricted to context partitions
    assert (statement["Effect"], statement["Action"]) == ("Allow", action)
    assert statement["Resource"] == {"Fn::GetAtt": ["ThreadsTableV2", "Arn"]}
    leading = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    assert leading == [f"{keys.CONTEXT_PK_PREFIX}*"]


def test_create_thread_may_read_context_items_only() -> None:
    # Given CreateThreadFunction's IAM statements
    reads = [s for s in _threads_table_statements("CreateThreadFunction") if "GetItem" in json.dumps(s["Action"])]

    # Then its one GetItem (the context existence check) reaches context partitions only
    [statement] = reads
    assert statement["Action"] == "dynamodb:GetItem"
    assert statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == [f"{keys.CONTEXT_PK_PREFIX}*"]


def test_list_agents_has_no_aws_permissions() -> None:
    # GET /v1/agents answers from the layer's registry
    assert _statements("ListAgentsFunction") == []


def test_the_local_servers_example_business_is_the_events_files() -> None:
    # The banner's curl example and `sam local invoke -e events/put_context.json` store the same business
    assert json.loads(load_event("put_context.json")["body"]) == SAMPLE_BUSINESS
