"""GET /v1/agents: the registered agent types, their context types and steps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from threadline import clients
from threadline.workflow.agent_types import AGENT_TYPES
from threadline_tools.provision import Deployment

from tests.conftest import Api, Keys, Seed, changes_nothing, error_body, invoke, load_event

AGENT_FIELDS = {"object", "name", "description", "context_types", "steps"}
STEP_FIELDS = {"name", "label", "agent", "type", "parent", "parallel_group", "when", "timeout_seconds", "decisions"}


def test_the_events_file_lists_the_registry(deployment: Deployment) -> None:
    # Given the list_agents event of events/
    event = load_event("list_agents.json")

    # When the function handles it
    result = invoke("list_agents", event)

    # Then 200 with a list of every registered agent type, by name
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert set(body) == {"object", "data"} and body["object"] == "list"
    assert [agent["name"] for agent in body["data"]] == sorted(AGENT_TYPES)


def test_each_agent_type_shows_its_definition(api: Api) -> None:
    # When the agent types are listed
    reply = api.call("GET", "/v1/agents")

    # Then each shows the registry's definition: context types and steps in order
    assert reply.status == 200
    for listed in reply.json()["data"]:
        assert set(listed) == AGENT_FIELDS
        agent = AGENT_TYPES[listed["name"]]
        assert listed["object"] == "agent"
        assert listed["description"] == agent.description
        assert listed["context_types"] == list(agent.context_types)
        assert [s["name"] for s in listed["steps"]] == [s.name for s in agent.steps]
        for shown, step in zip(listed["steps"], agent.steps, strict=True):
            assert set(shown) == STEP_FIELDS
            assert (shown["label"], shown["agent"], shown["type"]) == (step.label, step.agent, step.type)
            assert (shown["parent"], shown["parallel_group"]) == (step.parent, step.parallel_group)


def test_the_cip_orchestrator_steps(api: Api) -> None:
    # When the agent types are listed
    agents = {agent["name"]: agent for agent in api.call("GET", "/v1/agents").json()["data"]}

    # Then the reference agent type works on businesses: a record check, three checks run
    # in parallel under it, a decision, and a human review only when the decision is "review"
    cip = agents["cip_orchestrator"]
    assert cip["context_types"] == ["business"]
    steps = {step["name"]: step for step in cip["steps"]}
    assert steps["business_record"]["parent"] is None
    checks = [name for name, step in steps.items() if step["parallel_group"] == "checks"]
    assert checks == ["tin_check", "address_check", "watchlist_screening"]
    assert {steps[name]["parent"] for name in checks} == {"business_record"}
    review = steps["human_review"]
    assert (review["type"], review["agent"], review["parent"]) == ("interrupt", "human", "decision")
    assert review["when"] == {"step": "decision", "key": "decision", "equals": "review"}
    defined = next(step for step in AGENT_TYPES["cip_orchestrator"].steps if step.name == "human_review")
    assert review["timeout_seconds"] == defined.timeout_seconds
    assert review["decisions"]
    # An activity has no human timeout or decisions
    assert (steps["tin_check"]["timeout_seconds"], steps["tin_check"]["decisions"]) == (None, None)


def test_every_listed_agent_type_creates_threads(api: Api, seed: Seed) -> None:
    # Given the listed agent types, and a context of each one's first context type
    for agent in api.call("GET", "/v1/agents").json()["data"]:
        context_type = agent["context_types"][0]
        seed.context(context_type, "ctx-1")

        # When a thread of that type is created on it
        reply = api.call(
            "POST", "/v1/threads", body={"type": agent["name"], "context_type": context_type, "context_id": "ctx-1"}
        )

        # Then it is accepted
        assert reply.status == 201, reply.body


def test_listing_agents_reads_no_table(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given DynamoDB is unreachable
    def unreachable() -> Any:
        raise RuntimeError("no DynamoDB for this function")

    with monkeypatch.context() as patch:
        patch.setattr(clients, "dynamodb", unreachable)

        # When the agent types are listed
        result = invoke("list_agents", load_event("list_agents.json"))

    # Then they are listed all the same: they come from the layer's registry
    assert result["statusCode"] == 200


def test_a_key_without_read_scope_cannot_list(api: Api, keys: Keys) -> None:
    # Given a write-only key
    writer = keys.create(scopes=("write",))

    # When it lists the agent types
    reply = api.call("GET", "/v1/agents", key=writer)

    # Then 403
    assert reply.status == 403
    assert reply.json() == error_body("forbidden", "This API key lacks the 'read' scope")


def test_every_key_sees_the_same_agent_types(api: Api, keys: Keys) -> None:
    # Given keys of another org and of a project
    others = [keys.create("globex", scopes=("read",)), keys.create(project_id="alpha")]

    # When each lists the agent types
    # Then they are the deployment's, the same for every tenant
    expected = api.call("GET", "/v1/agents").json()
    assert all(api.call("GET", "/v1/agents", key=key).json() == expected for key in others)


def test_a_query_parameter_is_400(api: Api) -> None:
    # When the list is asked with a parameter it does not take
    reply = api.call("GET", "/v1/agents", query={"page": 2})

    # Then 400 naming it
    assert reply.status == 400
    assert reply.json() == error_body("invalid_parameter", "page is not a known query parameter", "page")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_method_the_path_does_not_serve_is_405(api: Api, deployment: Deployment, method: str) -> None:
    with changes_nothing(deployment):
        # When /v1/agents is called with another method than GET
        reply = api.call(method, "/v1/agents", body={"name": "kyc"})

    # Then 405 with Allow: GET
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET"
    assert reply.json() == error_body("method_not_allowed", f"{method} is not allowed on /v1/agents; use GET")


def test_one_agent_type_is_no_route(api: Api) -> None:
    # When a single agent type is asked for (there is no such route)
    reply = api.call("GET", "/v1/agents/cip_orchestrator")

    # Then the gateway's 404
    assert (reply.status, reply.json()["code"]) == (404, "not_found")
