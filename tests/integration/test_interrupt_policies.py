"""A run's interrupt policy: manual waits for a person, auto_approve takes the proposed decision,
skip passes the step over; an Express deployment refuses a run that could wait for a person."""

from __future__ import annotations

from typing import Any

import pytest
from threadline import wiring
from threadline_tools.provision import Deployment

from tests.conftest import (
    Api,
    business_document,
    changes_nothing,
    error_body,
    put_business,
    raw_thread_item,
    settle,
    wait_for_thread,
)


def create(api: Api, business: str, **fields: Any) -> Any:
    put_business(api, f"biz-{business}", document=business_document(business))
    return api.call(
        "POST", "/v1/threads", body={"type": "cip_orchestrator", "business_id": f"biz-{business}", **fields}
    )


def review_of(thread: dict[str, Any]) -> dict[str, Any]:
    [review] = [s for s in thread["steps"] if s["name"] == "human_review"]
    return review


@pytest.mark.parametrize(("business", "proposed"), [("suspicious", "approve"), ("sanctioned", "reject")])
def test_auto_approve_takes_the_proposed_decision_without_waiting(
    api: Api, deployment: Deployment, business: str, proposed: str
) -> None:
    # When a review-bound business runs with auto_approve
    reply = create(api, business, interrupt_policy="auto_approve")
    assert reply.status == 201, reply.body
    thread = wait_for_thread(api, deployment, reply.json()["id"], "completed")

    # Then it never waited: the review is completed with the decision step's proposal, as the policy's
    assert thread["status"] == "completed"
    review = review_of(thread)
    assert (review["status"], review["resolution"], review["output"]) == (
        "completed",
        "auto_approved",
        {"decision": proposed},
    )
    [artifact] = review["artifacts"]
    assert artifact["type"] == "human_decision"
    assert artifact["content"] == {"decision": proposed, "note": None, "reviewer": None, "policy": "auto_approve"}
    assert review["started_at"] == review["completed_at"]
    assert raw_thread_item(deployment, "acme", thread["id"])["interrupt_policy"] == {"S": "auto_approve"}


def test_skip_passes_the_review_over_and_records_it(api: Api, deployment: Deployment) -> None:
    reply = create(api, "suspicious", interrupt_policy="skip")
    thread = wait_for_thread(api, deployment, reply.json()["id"], "completed")

    review = review_of(thread)
    assert (review["status"], review["resolution"], review["artifacts"], review["output"]) == (
        "completed",
        "skipped",
        [],
        {"skipped": True},
    )


def test_a_step_whose_condition_does_not_hold_is_not_recorded_under_any_policy(
    api: Api, deployment: Deployment
) -> None:
    for policy in ("manual", "skip"):
        reply = create(api, "clean", interrupt_policy=policy)
        thread = wait_for_thread(api, deployment, reply.json()["id"], "completed")
        assert "human_review" not in [s["name"] for s in thread["steps"]], policy


def test_manual_is_the_default_and_waits_for_a_person(api: Api, deployment: Deployment) -> None:
    reply = create(api, "suspicious")
    thread = wait_for_thread(api, deployment, reply.json()["id"], "interrupted")
    review = review_of(thread)
    assert (review["status"], review["resolution"]) == ("waiting", None)

    decided = api.call("POST", f"/v1/threads/{thread['id']}/steps/{review['id']}/resolve", body={"decision": "reject"})
    assert decided.status == 200, decided.body
    done = wait_for_thread(api, deployment, thread["id"], "completed")
    assert (review_of(done)["resolution"], review_of(done)["output"]) == ("human", {"decision": "reject"})


@pytest.mark.parametrize("policy", ["Manual", "approve", "none", 1, ["skip"]])
def test_an_unknown_policy_is_400_and_creates_nothing(api: Api, deployment: Deployment, policy: Any) -> None:
    put_business(api, "biz-clean", document=business_document("clean"))
    body = {"type": "cip_orchestrator", "business_id": "biz-clean", "interrupt_policy": policy}
    with changes_nothing(deployment):
        reply = api.call("POST", "/v1/threads", body=body)
    assert reply.status == 400, reply.body
    [error] = reply.json()["errors"]
    assert (error["code"], error["parameter"]) == ("invalid_parameter", "interrupt_policy")


@pytest.fixture
def express(monkeypatch: pytest.MonkeyPatch) -> None:
    """The functions as an Express deployment configures them (WorkflowType=EXPRESS)."""
    monkeypatch.setenv("WORKFLOW_TYPE", "EXPRESS")
    wiring.reset()


def test_express_refuses_a_run_that_could_wait_for_a_person(api: Api, deployment: Deployment, express: None) -> None:
    put_business(api, "biz-suspicious", document=business_document("suspicious"))
    for fields in ({}, {"interrupt_policy": "manual"}):
        with changes_nothing(deployment):
            reply = api.call(
                "POST", "/v1/threads", body={"type": "cip_orchestrator", "business_id": "biz-suspicious", **fields}
            )
        assert reply.status == 400, reply.body
        assert reply.json() == error_body(
            "invalid_parameter",
            "cip_orchestrator may wait for a human, which this deployment's Express workflows cannot;"
            " give interrupt_policy auto_approve or skip",
            "interrupt_policy",
        )


def test_express_runs_a_run_that_never_waits(api: Api, deployment: Deployment, express: None) -> None:
    reply = create(api, "suspicious", interrupt_policy="auto_approve")
    assert reply.status == 201, reply.body
    thread = wait_for_thread(api, deployment, reply.json()["id"], "completed")
    assert review_of(thread)["resolution"] == "auto_approved"
    settle(deployment)
