"""Faults of AWS, injected into the deployment's real (moto-backed) clients: what the caller is
answered, what is committed, and that no thread runs without an execution nor an execution
without a thread (docs/operations.md, "Failures and retries").

Faults go through botocore's own event hooks of the clients the handlers use (never a fake
client): an AWS error is answered before the call reaches the emulation, parsed by botocore
from the service's wire format as a real error reply is; a timeout is raised before the request
is sent (nothing happened) or after the emulation carried it out (the answer was lost), and
botocore retries it as configured (``threadline.clients``), without its back-off delays.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from botocore.parsers import create_parser
from botocore.retries.standard import ExponentialBackoff
from threadline import clients, wiring
from threadline.models.agent_types import AgentType, StepDefinition
from threadline.workflow import agent_types as registry
from threadline_tools.provision import Deployment

from tests.conftest import (
    Api,
    Seed,
    agentuity_error,
    drain,
    error_body,
    executions,
    put_business,
    raw_thread_item,
    settle,
    thread_items,
    wait_for_thread,
)

pytestmark = pytest.mark.usefixtures("stop_leftovers")

CREATE = {"type": "cip_orchestrator", "business_id": "biz-42"}
THROTTLED = "The service is busy (a request to AWS was throttled); retry after 2 seconds"
CONFLICT = "The resource was being changed by another request at the same moment; retry after 1 second"
UNAVAILABLE = "A service this request depends on is unavailable; retry after 5 seconds"
TIMED_OUT = "A service this request depends on did not answer in time; retry after 5 seconds"
NOT_STARTED = "The thread's workflow could not be started; the thread is marked failed"


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore retries as configured, without sleeping between attempts."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture(autouse=True)
def _business(seed: Seed) -> None:
    seed.business("biz-42")


# ----- injection ------------------------------------------------------------------------------


def _request_params(params: Any) -> dict[str, Any]:
    body = params.get("body") or b"{}"
    parsed: dict[str, Any] = json.loads(body)  # the JSON protocols' body is the call's parameters
    return parsed


@contextmanager
def failing(
    client: Any,
    operation: str,
    code: str,
    *,
    status: int = 400,
    extra: dict[str, Any] | None = None,
    times: int | None = None,
    when: Callable[[dict[str, Any]], bool] = lambda params: True,
) -> Iterator[list[dict[str, Any]]]:
    """Calls of ``operation`` on ``client`` (``when`` their parameters match; the first ``times``
    of them, or all) are answered AWS's error ``code`` instead of reaching the emulation. The
    reply is the service's wire format (JSON protocol: ``__type``, ``message`` and the error's
    own members), parsed by botocore, so the client raises exactly what AWS's reply makes it
    raise. Yields the parameters of the calls that failed."""
    service = client.meta.service_model
    failed: list[dict[str, Any]] = []

    def answer(model: Any, params: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        request = _request_params(params)
        if not when(request) or (times is not None and len(failed) >= times):
            return None
        failed.append(request)
        wire = {
            "status_code": status,
            "headers": {"x-amzn-requestid": "fault-injection", "content-type": "application/x-amz-json-1.0"},
            "body": json.dumps({"__type": code, "message": f"injected {code}", **(extra or {})}).encode(),
        }
        parser = create_parser(service.protocol)
        parsed: dict[str, Any] = parser.parse(wire, model.output_shape)
        shape = service.shape_for_error_code(code)
        if shape is not None:  # the error's modeled members, e.g. CancellationReasons
            parsed.update(parser.parse(wire, shape))
        return AWSResponse("https://fault.injection", status, wire["headers"], None), parsed

    event = f"before-call.{service.service_id.hyphenize()}.{operation}"
    client.meta.events.register_first(event, answer)
    try:
        yield failed
    finally:
        client.meta.events.unregister(event, answer)


@contextmanager
def timing_out(client: Any, operation: str, *, carried_out: bool) -> Iterator[list[str]]:
    """Every attempt of ``operation`` on ``client`` times out: before the request is sent
    (``carried_out=False``: a connect timeout, nothing happened), or after the emulation carried
    it out (``True``: a read timeout, the answer was lost). Yields one entry per attempt."""
    wanted = f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    attempts: list[str] = []

    def time_out(request: Any, event_name: str, **_: Any) -> None:
        if event_name != wanted:
            return
        attempts.append(operation)
        if carried_out:
            raise ReadTimeoutError(endpoint_url=request.url)
        raise ConnectTimeoutError(endpoint_url=request.url)

    # botocore calls the handlers of a specific event before those of a general one: moto's own
    # (on "before-send") carries the call out, so a timeout after it hangs there too, last.
    event = "before-send" if carried_out else wanted
    register = client.meta.events.register_last if carried_out else client.meta.events.register_first
    register(event, time_out)
    try:
        yield attempts
    finally:
        client.meta.events.unregister(event, time_out)


def retry_after(reply: Any) -> str | None:
    return next((v for k, v in reply.headers.items() if k.lower() == "retry-after"), None)


def answer(reply: Any) -> tuple[int, str | None, Any]:
    """A reply's status, Retry-After header and body."""
    return reply.status, retry_after(reply), reply.json()


def orphans(deployment: Deployment) -> dict[str, list[str]]:
    """Threads that are active without a running execution, and executions without a thread."""
    threads = {item["id"]["S"]: item for item in thread_items(deployment)}
    runs = {e["name"]: e["status"] for e in executions(deployment)}
    return {
        "active threads without a running execution": sorted(
            thread_id
            for thread_id, item in threads.items()
            if item["status"]["S"] in ("running", "interrupted") and runs.get(thread_id) != "RUNNING"
        ),
        "executions without a thread": sorted(name for name in runs if name not in threads),
    }


NO_ORPHANS: dict[str, list[str]] = {
    "active threads without a running execution": [],
    "executions without a thread": [],
}


def stored_status(deployment: Deployment, thread_id: str) -> str:
    return str(raw_thread_item(deployment, "acme", thread_id)["status"]["S"])


# ----- DynamoDB -------------------------------------------------------------------------------


def test_a_throttled_create_is_a_503_to_retry_and_stores_nothing(api: Api, deployment: Deployment) -> None:
    # Given DynamoDB throttles the thread's write (after the SDK's own retries)
    drain()
    with failing(clients.dynamodb(), "TransactWriteItems", "ProvisionedThroughputExceededException") as failed:
        # When a thread is created
        reply = api.call("POST", "/v1/threads", body=CREATE)

    # Then 503 with Retry-After, in the native dialect; no thread, no execution
    assert len(failed) == 1
    assert answer(reply) == (503, "2", error_body("service_unavailable", THROTTLED))
    assert thread_items(deployment) == []
    assert executions(deployment) == []

    # And the same request, retried, creates the thread and runs its workflow
    again = api.call("POST", "/v1/threads", body=CREATE)
    assert again.status == 201, again.body
    assert settle(deployment) == [{"name": again.json()["id"], "status": "SUCCEEDED"}]
    assert orphans(deployment) == NO_ORPHANS


def test_a_create_cancelled_by_a_conflicting_transaction_is_a_503(api: Api, deployment: Deployment) -> None:
    # Given DynamoDB cancels the create's transaction: another transaction held one of its items
    reasons = {"CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict", "Message": "ongoing"}]}
    drain()
    with failing(clients.dynamodb(), "TransactWriteItems", "TransactionCanceledException", extra=reasons):
        # When a thread with user data (header and user data: two items) is created
        reply = api.call("POST", "/v1/threads", body={**CREATE, "user_data": "secret"})

    # Then 503 with Retry-After; nothing stored, nothing started
    assert answer(reply) == (503, "1", error_body("service_unavailable", CONFLICT))
    assert thread_items(deployment) == []
    assert executions(deployment) == []


def test_a_create_whose_write_timed_out_after_committing_leaves_no_running_thread(
    api: Api, deployment: Deployment
) -> None:
    # Given the thread's write is committed but every answer is lost (the SDK retries, in vain)
    drain()
    with timing_out(clients.dynamodb(), "TransactWriteItems", carried_out=True) as attempts:
        # When a thread is created
        reply = api.call("POST", "/v1/threads", body=CREATE)

    # Then 503 with Retry-After; the committed thread is failed, not running without an execution
    assert len(attempts) == 4  # the first and the 3 retries of threadline.clients
    assert answer(reply) == (503, "5", error_body("service_unavailable", TIMED_OUT))
    [item] = thread_items(deployment)
    assert (item["status"], item["gsi_status"]) == ({"S": "failed"}, {"S": "acme#failed"})
    assert executions(deployment) == []
    assert orphans(deployment) == NO_ORPHANS


def test_a_create_sends_a_client_request_token_so_the_sdks_retry_is_idempotent(api: Api) -> None:
    # Given every TransactWriteItems call is watched (and left to succeed)
    calls: list[dict[str, Any]] = []

    def watch(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    drain()
    event = "provide-client-params.dynamodb.TransactWriteItems"
    clients.dynamodb().meta.events.register(event, watch)
    try:
        # When a thread is created
        reply = api.call("POST", "/v1/threads", body=CREATE)
    finally:
        clients.dynamodb().meta.events.unregister(event, watch)

    # Then its write carries the thread's id as ClientRequestToken: DynamoDB answers a retry of a
    # write that timed out after committing as it answered the first, instead of failing its condition
    assert reply.status == 201
    [write] = [c for c in calls if c.get("ClientRequestToken") is not None]
    assert write["ClientRequestToken"] == reply.json()["id"]


def test_throttled_reads_are_503s_in_each_dialect(api: Api, deployment: Deployment) -> None:
    # Given a thread, and DynamoDB throttling queries
    thread = api.call("POST", "/v1/threads", body=CREATE).json()
    settle(deployment)
    drain()
    with failing(clients.dynamodb(), "Query", "ThrottlingException"):
        # When it is read and listed in both dialects
        native = api.call("GET", f"/v1/threads/{thread['id']}")
        listed = api.call("GET", "/v1/threads")
        agentuity = api.call("GET", f"/thread/{thread['id']}")

    # Then 503s with Retry-After, each in its dialect
    assert answer(native) == (503, "2", error_body("service_unavailable", THROTTLED))
    assert (listed.status, retry_after(listed)) == (503, "2")
    assert answer(agentuity) == (
        503,
        "2",
        agentuity_error("service_unavailable", THROTTLED),
    )


def test_an_unreachable_dynamodb_is_a_503(api: Api, deployment: Deployment) -> None:
    # Given DynamoDB cannot be reached (every attempt of the SDK fails to connect)
    thread = api.call("POST", "/v1/threads", body=CREATE).json()
    settle(deployment)
    drain()
    with timing_out(clients.dynamodb(), "Query", carried_out=False) as attempts:
        reply = api.call("GET", f"/v1/threads/{thread['id']}")

    # Then 503 with Retry-After, once the SDK's attempts are spent
    assert len(attempts) == 4  # the first and the 3 retries of threadline.clients
    assert answer(reply) == (503, "5", error_body("service_unavailable", TIMED_OUT))


def test_a_refused_connection_is_a_503(api: Api, deployment: Deployment) -> None:
    # Given the endpoint refuses connections
    def refuse(request: Any, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=request.url)

    thread = api.call("POST", "/v1/threads", body=CREATE).json()
    settle(deployment)
    drain()
    clients.dynamodb().meta.events.register_first("before-send.dynamodb.Query", refuse)
    try:
        reply = api.call("GET", f"/v1/threads/{thread['id']}")
    finally:
        clients.dynamodb().meta.events.unregister("before-send.dynamodb.Query", refuse)

    # Then 503 with Retry-After (the SDK retried it first)
    assert answer(reply) == (503, "5", error_body("service_unavailable", UNAVAILABLE))


@pytest.mark.parametrize(
    ("code", "status"),
    [("ValidationException", 400), ("AccessDeniedException", 400), ("ResourceNotFoundException", 400)],
)
def test_an_error_a_retry_cannot_cure_stays_a_500_without_retry_after(
    api: Api, deployment: Deployment, code: str, status: int
) -> None:
    # Given DynamoDB refuses queries for a reason a retry does not change
    thread = api.call("POST", "/v1/threads", body=CREATE).json()
    settle(deployment)
    drain()
    with failing(clients.dynamodb(), "Query", code, status=status):
        reply = api.call("GET", f"/v1/threads/{thread['id']}")

    # Then the plain 500, with no Retry-After (retrying would not help)
    assert answer(reply) == (
        500,
        None,
        error_body("internal_error", "Internal server error"),
    )


def test_a_throttled_delete_changes_nothing_and_can_be_retried(api: Api, deployment: Deployment) -> None:
    # Given a finished thread, and DynamoDB throttling updates
    thread = api.call("POST", "/v1/threads", body=CREATE).json()
    settle(deployment)
    drain()
    before = raw_thread_item(deployment, "acme", thread["id"])
    db = clients.dynamodb()
    with (
        failing(db, "UpdateItem", "ProvisionedThroughputExceededException"),
        failing(db, "TransactWriteItems", "ProvisionedThroughputExceededException"),
    ):
        reply = api.call("DELETE", f"/v1/threads/{thread['id']}")

    # Then 503 with Retry-After, and the thread is as it was
    assert (reply.status, retry_after(reply)) == (503, "2")
    assert raw_thread_item(deployment, "acme", thread["id"]) == before

    # And the retry deletes it
    again = api.call("DELETE", f"/v1/threads/{thread['id']}")
    assert (again.status, again.json()["deleted"]) == (200, True)


# ----- KMS ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [("KMSInternalException", 500), ("KeyUnavailableException", 500), ("DependencyTimeoutException", 503)],
)
def test_kms_unavailable_on_create_is_a_503_and_stores_nothing(
    api: Api, deployment: Deployment, code: str, status: int
) -> None:
    # Given KMS cannot make data keys
    drain()
    with failing(clients.kms(), "GenerateDataKey", code, status=status):
        # When a thread with user data (encrypted before it is written) is created
        reply = api.call("POST", "/v1/threads", body={**CREATE, "user_data": "secret"})

    # Then 503 with Retry-After; nothing stored, nothing started
    assert answer(reply) == (503, "5", error_body("service_unavailable", UNAVAILABLE))
    assert thread_items(deployment) == []
    assert executions(deployment) == []


def test_kms_unavailable_on_read_is_a_503_not_an_undecryptable_thread(api: Api, deployment: Deployment) -> None:
    # Given a thread with user data, read by a fresh process (no data key cached), and KMS unavailable
    thread = api.call("POST", "/v1/threads", body={**CREATE, "user_data": "secret"}).json()
    settle(deployment)
    drain()
    wiring.reset()
    with failing(clients.kms(), "Decrypt", "KeyUnavailableException", status=500):
        # When it is read and listed
        reply = api.call("GET", f"/v1/threads/{thread['id']}")
        listed = api.call("GET", "/v1/threads")

    # Then 503s with Retry-After (a retry may succeed), never the answer for a corrupt blob
    assert answer(reply) == (503, "5", error_body("service_unavailable", UNAVAILABLE))
    assert (listed.status, retry_after(listed)) == (503, "5")
    # And once KMS is back, the same read succeeds
    assert api.call("GET", f"/v1/threads/{thread['id']}").json()["user_data"] == "secret"


# ----- Step Functions: StartExecution ---------------------------------------------------------


def test_a_start_refused_by_step_functions_fails_the_thread_with_a_503(api: Api, deployment: Deployment) -> None:
    # Given Step Functions throttles StartExecution
    drain()
    with failing(clients.stepfunctions(), "StartExecution", "ThrottlingException"):
        reply = api.call("POST", "/v1/threads", body=CREATE)

    # Then 503 with Retry-After; the thread is stored failed (not running), and no execution exists
    assert answer(reply) == (
        503,
        "2",
        error_body("workflow_start_failed", NOT_STARTED),
    )
    [item] = thread_items(deployment)
    assert (item["status"], item["gsi_status"]) == ({"S": "failed"}, {"S": "acme#failed"})
    assert executions(deployment) == []
    assert orphans(deployment) == NO_ORPHANS


def test_a_start_that_timed_out_after_starting_is_a_success(api: Api, deployment: Deployment) -> None:
    # Given StartExecution starts the execution but every answer is lost (the SDK retries: the
    # execution's name is the thread's id, so no retry starts a second one)
    drain()
    with timing_out(clients.stepfunctions(), "StartExecution", carried_out=True) as attempts:
        reply = api.call("POST", "/v1/threads", body=CREATE)

    # Then the thread is created (201): DescribeExecution found its execution, which runs it to the end
    assert len(attempts) == 4  # the first and the 3 retries of threadline.clients
    assert reply.status == 201, reply.body
    thread_id = reply.json()["id"]
    assert settle(deployment) == [{"name": thread_id, "status": "SUCCEEDED"}]
    assert wait_for_thread(api, deployment, thread_id, "completed")["status"] == "completed"
    assert orphans(deployment) == NO_ORPHANS


def test_a_start_that_timed_out_before_reaching_step_functions_fails_the_thread(
    api: Api, deployment: Deployment
) -> None:
    # Given StartExecution cannot connect
    drain()
    with timing_out(clients.stepfunctions(), "StartExecution", carried_out=False):
        reply = api.call("POST", "/v1/threads", body=CREATE)

    # Then 503 with Retry-After, the thread failed, no execution
    assert answer(reply) == (
        503,
        "5",
        error_body("workflow_start_failed", NOT_STARTED),
    )
    assert [item["status"]["S"] for item in thread_items(deployment)] == ["failed"]
    assert executions(deployment) == []
    assert orphans(deployment) == NO_ORPHANS


def test_a_start_that_timed_out_where_step_functions_cannot_say_fails_the_thread_and_stops_it(
    api: Api, deployment: Deployment
) -> None:
    # Given StartExecution starts the execution but its answers are lost, and DescribeExecution fails
    drain()
    sfn = clients.stepfunctions()
    with (
        timing_out(sfn, "StartExecution", carried_out=True),
        failing(sfn, "DescribeExecution", "ThrottlingException") as described,
    ):
        reply = api.call("POST", "/v1/threads", body=CREATE)

    # Then 503: the thread is marked failed and the execution that did start is stopped
    assert len(described) == 1
    assert answer(reply) == (
        503,
        "5",
        error_body("workflow_start_failed", NOT_STARTED),
    )
    [item] = thread_items(deployment)
    assert item["status"] == {"S": "failed"}
    assert settle(deployment) == [{"name": item["id"]["S"], "status": "ABORTED"}]
    assert orphans(deployment) == NO_ORPHANS


# ----- Step Functions: a waiting thread (cancel, delete, resolve) -----------------------------

REVIEW_ONLY = AgentType(
    name="review_only",
    description="Checks the business record, then waits for a person.",
    context_types=("business",),
    steps=(
        StepDefinition("business_record", "Business record completeness", agent="cip.business_record"),
        StepDefinition("human_review", "Human review", agent="human", type="interrupt", parent="business_record"),
    ),
)


@pytest.fixture
def waiting(api: Api, deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A thread interrupted at its human review (its execution RUNNING, waiting on a task token)."""
    monkeypatch.setitem(registry.AGENT_TYPES, REVIEW_ONLY.name, REVIEW_ONLY)
    put_business(api, "biz-1")
    created = api.call("POST", "/v1/threads", body={"type": REVIEW_ONLY.name, "business_id": "biz-1"}).json()
    thread: dict[str, Any] = wait_for_thread(api, deployment, created["id"], "interrupted")
    review = next(s for s in thread["steps"] if s["name"] == "human_review")
    assert review["status"] == "waiting"
    drain()
    return thread


def review_of(thread: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in thread["steps"] if s["name"] == "human_review")


def resolve(api: Api, thread: dict[str, Any]) -> Any:
    path = f"/v1/threads/{thread['id']}/steps/{review_of(thread)['id']}/resolve"
    return api.call("POST", path, body={"decision": "approve"})


def execution_status(deployment: Deployment, thread_id: str) -> str:
    return next(e["status"] for e in executions(deployment) if e["name"] == thread_id)


def test_a_cancel_whose_stop_fails_is_committed_and_answered(
    api: Api, deployment: Deployment, waiting: dict[str, Any]
) -> None:
    # Given Step Functions throttles StopExecution
    with failing(clients.stepfunctions(), "StopExecution", "ThrottlingException") as refused:
        # When the waiting thread is cancelled
        reply = api.call("POST", f"/v1/threads/{waiting['id']}/cancel")

    # Then 200 with the thread cancelled, as stored: a 503 would make the retry a 409 ("already
    # cancelled"). Its execution still waits, and can no longer change the thread (its writes
    # require an active thread); a cancel retried now is the usual 409
    assert len(refused) == 1
    assert (reply.status, reply.json()["status"]) == (200, "cancelled"), reply.body
    assert stored_status(deployment, waiting["id"]) == "cancelled"
    assert execution_status(deployment, waiting["id"]) == "RUNNING"
    assert orphans(deployment) == NO_ORPHANS
    assert api.call("POST", f"/v1/threads/{waiting['id']}/cancel").status == 409


def test_a_throttled_cancel_changes_nothing_and_can_be_retried(
    api: Api, deployment: Deployment, waiting: dict[str, Any]
) -> None:
    # Given DynamoDB throttles writes (the cancel's transaction, or a single update)
    db = clients.dynamodb()
    with (
        failing(db, "TransactWriteItems", "ProvisionedThroughputExceededException"),
        failing(db, "UpdateItem", "ProvisionedThroughputExceededException"),
    ):
        reply = api.call("POST", f"/v1/threads/{waiting['id']}/cancel")

    # Then 503 with Retry-After: the thread still waits, its execution still runs
    assert answer(reply) == (503, "2", error_body("service_unavailable", THROTTLED))
    assert stored_status(deployment, waiting["id"]) == "interrupted"
    assert execution_status(deployment, waiting["id"]) == "RUNNING"

    # And the retry cancels it and aborts its execution
    again = api.call("POST", f"/v1/threads/{waiting['id']}/cancel")
    assert (again.status, again.json()["status"]) == (200, "cancelled")
    assert settle(deployment) == [{"name": waiting["id"], "status": "ABORTED"}]
    assert orphans(deployment) == NO_ORPHANS


def test_a_delete_whose_stop_fails_is_committed_and_answered(
    api: Api, deployment: Deployment, waiting: dict[str, Any]
) -> None:
    # Given Step Functions cannot be reached to stop the execution
    with timing_out(clients.stepfunctions(), "StopExecution", carried_out=False):
        reply = api.call("DELETE", f"/v1/threads/{waiting['id']}")

    # Then 200: the thread is deleted and cancelled; a second delete is the usual 404
    assert (reply.status, reply.json()["deleted"], reply.json()["status"]) == (200, True, "cancelled")
    assert stored_status(deployment, waiting["id"]) == "cancelled"
    assert orphans(deployment) == NO_ORPHANS
    assert api.call("DELETE", f"/v1/threads/{waiting['id']}").status == 404


def test_a_decision_step_functions_refused_can_be_sent_again(
    api: Api, deployment: Deployment, waiting: dict[str, Any]
) -> None:
    # Given Step Functions throttles SendTaskSuccess
    with failing(clients.stepfunctions(), "SendTaskSuccess", "ThrottlingException") as refused:
        # When a person approves the waiting review
        reply = resolve(api, waiting)

    # Then 503 with Retry-After, and nothing is lost: the step waits with its token, the thread
    # is interrupted as before
    assert len(refused) == 1
    assert answer(reply) == (503, "2", error_body("service_unavailable", THROTTLED))
    thread = api.call("GET", f"/v1/threads/{waiting['id']}").json()
    assert (thread["status"], review_of(thread)["status"]) == ("interrupted", "waiting")
    assert "task_token" in raw_review(deployment, waiting)

    # And the same decision, sent again, resumes the workflow to its end
    again = resolve(api, waiting)
    assert again.status == 200, again.body
    done = wait_for_thread(api, deployment, waiting["id"], "completed")
    assert review_of(done)["output"] == {"decision": "approve"}
    assert settle(deployment) == [{"name": waiting["id"], "status": "SUCCEEDED"}]
    assert orphans(deployment) == NO_ORPHANS


def test_a_decision_whose_answer_was_lost_after_it_arrived_is_a_success(
    api: Api, deployment: Deployment, waiting: dict[str, Any]
) -> None:
    # Given SendTaskSuccess delivers the decision but every answer is lost
    with timing_out(clients.stepfunctions(), "SendTaskSuccess", carried_out=True):
        reply = resolve(api, waiting)

    # Then 200 (a heartbeat on the token shows the task no longer waits), and the run completes
    assert reply.status == 200, reply.body
    done = wait_for_thread(api, deployment, waiting["id"], "completed")
    assert (done["status"], review_of(done)["output"]) == ("completed", {"decision": "approve"})
    assert orphans(deployment) == NO_ORPHANS


def test_a_decision_whose_claim_conflicted_is_a_503_not_a_409(
    api: Api, deployment: Deployment, waiting: dict[str, Any]
) -> None:
    # Given DynamoDB cancels the claim's transaction for a conflicting one (the step still waits)
    reasons = {"CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]}
    with failing(clients.dynamodb(), "TransactWriteItems", "TransactionCanceledException", extra=reasons):
        reply = resolve(api, waiting)

    # Then 503 with Retry-After, not "not waiting" (409); the step still waits, and a retry resolves it
    assert answer(reply) == (503, "1", error_body("service_unavailable", CONFLICT))
    assert review_of(api.call("GET", f"/v1/threads/{waiting['id']}").json())["status"] == "waiting"
    assert resolve(api, waiting).status == 200
    assert wait_for_thread(api, deployment, waiting["id"], "completed")["status"] == "completed"


def raw_review(deployment: Deployment, thread: dict[str, Any]) -> dict[str, Any]:
    items = [
        item
        for item in clients.dynamodb().scan(TableName=deployment.threads_table)["Items"]
        if item.get("id", {}).get("S") == review_of(thread)["id"]
    ]
    return items[0] if items else {}


# ----- the authorizer -------------------------------------------------------------------------


def test_a_throttled_keys_table_is_the_gateways_503_with_retry_after(api: Api, deployment: Deployment) -> None:
    # Given DynamoDB throttles the authorizer's read of the keys table
    drain()
    keys_table = deployment.keys_table
    with failing(
        clients.dynamodb(),
        "GetItem",
        "ProvisionedThroughputExceededException",
        when=lambda params: params.get("TableName") == keys_table,
    ):
        reply = api.call("GET", "/v1/threads")

    # Then the authorizer fails and API Gateway answers the template's AUTHORIZER_CONFIGURATION_ERROR
    # response: 503 with Retry-After, one body for both dialects
    assert (reply.status, retry_after(reply)) == (503, "5")
    body = reply.json()
    assert body["code"] == "service_unavailable"
    assert body["errors"][0]["code"] == "service_unavailable"


# ----- Idempotency-Key records ----------------------------------------------------------------


def test_a_throttled_idempotency_record_is_a_503_and_creates_nothing(api: Api, deployment: Deployment) -> None:
    # Given DynamoDB throttles the write of the Idempotency-Key's record
    drain()
    keyed = {"Idempotency-Key": "fault-1"}

    def is_record(params: dict[str, Any]) -> bool:
        return params.get("TableName") == deployment.idempotency_table

    with failing(clients.dynamodb(), "PutItem", "ThrottlingException", when=is_record) as failed:
        # When a thread is created with a key
        reply = api.call("POST", "/v1/threads", body=CREATE, headers=keyed)

    # Then 503 with Retry-After, and nothing ran: no thread, no execution, no record
    assert failed
    assert answer(reply) == (503, "2", error_body("service_unavailable", THROTTLED))
    assert thread_items(deployment) == []
    assert executions(deployment) == []

    # And the retry with the same key creates it once, then replays it
    first = api.call("POST", "/v1/threads", body=CREATE, headers=keyed)
    again = api.call("POST", "/v1/threads", body=CREATE, headers=keyed)
    assert (first.status, again.status, again.body) == (201, 201, first.body)
    assert len(thread_items(deployment)) == 1
    assert orphans(deployment) == NO_ORPHANS


def test_a_record_that_cannot_be_completed_still_answers_what_was_done(api: Api, deployment: Deployment) -> None:
    # Given DynamoDB throttles the write that completes the Idempotency-Key's record (after the create ran)
    drain()

    def is_record(params: dict[str, Any]) -> bool:
        return params.get("TableName") == deployment.idempotency_table

    with failing(clients.dynamodb(), "UpdateItem", "ThrottlingException", when=is_record) as failed:
        reply = api.call("POST", "/v1/threads", body=CREATE, headers={"Idempotency-Key": "fault-2"})

    # Then the caller hears the thread it created (a 503 would invite a retry that creates another)
    assert failed
    assert reply.status == 201, reply.body
    assert [i["id"]["S"] for i in thread_items(deployment)] == [reply.json()["id"]]
    assert orphans(deployment) == NO_ORPHANS
