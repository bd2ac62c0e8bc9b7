"""The local server serves as API Gateway and Lambda do, over real HTTP: handlers run in parallel
(and the emulation keeps racing requests consistent), paths are percent-decoded, every method
gets the gateway's JSON answer, chunked bodies are read, and nothing names Python or a version."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import boto3
import pytest
import requests
from threadline.api.routes import allowed_methods
from threadline_tools.local import LOG_AT_ONCE, SERVER_NAME
from threadline_tools.template import ROOT

from tests.e2e.conftest import BUSINESS, Server, running_server, settle, wait_for_status

pytestmark = pytest.mark.e2e

REJECTED = {"code": "bad_request", "message": "The request was rejected", "parameter": None}
NO_ROUTE = {"code": "not_found", "message": "No such route", "parameter": None}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("concurrency")) as running:
        yield running


def at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Make the calls from as many client threads, released together."""
    start = threading.Barrier(len(calls))

    def call(index: int) -> requests.Response:
        start.wait()
        return calls[index]()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(call, range(len(calls))))


def stepfunctions(server: Server) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def executions_named(server: Server, names: set[str]) -> dict[str, list[str]]:
    """The agent workflow's executions for the threads ``names``: thread id → the status of each
    execution run for it (an execution is named after its run; its input names the thread)."""
    sfn = stepfunctions(server)
    found: dict[str, list[str]] = {}
    for machine in sfn.list_state_machines()["stateMachines"]:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
            for execution in page["executions"]:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                thread_id = json.loads(described.get("input") or "{}").get("thread", {}).get("id")
                if thread_id in names:
                    found.setdefault(thread_id, []).append(execution["status"])
    return found


def percent_encoded(text: str) -> str:
    """Every character of ``text`` as a percent-escape (``abc`` → ``%61%62%63``)."""
    return "".join(f"%{byte:02X}" for byte in text.encode())


def create_thread(server: Server, business_id: str, **fields: Any) -> dict[str, Any]:
    body = {"type": "cip_orchestrator", "business_id": business_id, **fields}
    created = server.call("POST", "/v1/threads", json=body)
    assert created.status_code == 201, created.text
    thread: dict[str, Any] = created.json()
    return thread


# ----- concurrency ------------------------------------------------------------------------------


def test_twenty_concurrent_creates_run_at_once_and_each_makes_one_thread_and_one_execution(server: Server) -> None:
    # Given a business, and twenty clients creating threads on it at once, without an Idempotency-Key
    assert server.call("PUT", "/v1/contexts/business/biz_twenty", json=BUSINESS).status_code in (200, 201)
    marker = {"burst": f"twenty-{time.time()}"}
    body = {"type": "cip_orchestrator", "business_id": "biz_twenty", "metadata": marker}
    logged = server.log_size()

    # When they post together
    replies = at_once([lambda: server.call("POST", "/v1/threads", json=body, timeout=120)] * 20)

    # Then each is a thread of its own
    assert [r.status_code for r in replies] == [201] * 20, [r.text for r in replies if r.status_code != 201]
    ids = {r.json()["id"] for r in replies}
    assert len(ids) == 20
    # And their handlers really ran at the same time: the server logs, for each request, how many
    # handlers were running as its own started (a lock around the handlers would make that 1)
    lines = [line for line in server.log_since(logged).splitlines() if "POST /v1/threads 201" in line]
    assert len(lines) == 20
    overlapping = [int(m.group(1)) for line in lines if (m := LOG_AT_ONCE.search(line))]
    assert overlapping and max(overlapping) >= 2, lines
    print(f"20 concurrent creates: up to {max(overlapping)} handlers at once")
    # And each started exactly one execution, named after it
    assert executions_named(server, ids).keys() == ids
    assert all(len(statuses) == 1 for statuses in executions_named(server, ids).values())
    # And all twenty are listed and counted (once the stream is delivered: see settle)
    query = {"metadata": json.dumps(marker), "per_page": 100}
    listed = server.call("GET", "/v1/threads", params=query, timeout=180).json()
    assert {t["id"] for t in listed["data"]} == ids and listed["total_count"] == 20
    settle(server, query)


def test_twenty_concurrent_identical_creates_with_one_key_make_one_thread_and_one_execution(server: Server) -> None:
    # Given twenty clients sending one create, with one Idempotency-Key, at once
    assert server.call("PUT", "/v1/contexts/business/biz_once", json=BUSINESS).status_code in (200, 201)
    marker = {"burst": f"once-{time.time()}"}
    body = {"type": "cip_orchestrator", "business_id": "biz_once", "metadata": marker, "user_data": "notes"}
    key = {"Idempotency-Key": f"once-{time.time_ns()}"}

    # When they post together
    replies = at_once([lambda: server.call("POST", "/v1/threads", json=body, headers=key, timeout=120)] * 20)

    # Then one thread exists: each answer is it (201, the first or its replay) or "in progress" (409)
    statuses = sorted(r.status_code for r in replies)
    assert set(statuses) <= {201, 409}, [r.text for r in replies]
    created = {r.json()["id"] for r in replies if r.status_code == 201}
    assert len(created) == 1, created
    assert all(r.headers["Retry-After"] == "1" for r in replies if r.status_code == 409)
    # And one execution was started
    assert {name: len(runs) for name, runs in executions_named(server, created).items()} == dict.fromkeys(created, 1)
    # And a retry now replays it
    again = server.call("POST", "/v1/threads", json=body, headers=key)
    assert (again.status_code, again.json()["id"], again.headers["Idempotent-Replayed"]) == (201, *created, "true")
    listed = settle(server, {"metadata": json.dumps(marker), "per_page": 100})
    assert [t["id"] for t in listed["data"]] == list(created)
    print(f"20 identical creates with one key: {statuses.count(201)} x 201, {statuses.count(409)} x 409, 1 thread")


def test_racing_puts_of_one_new_context_create_it_exactly_once(server: Server) -> None:
    # Given a context that does not exist yet, and ten clients storing it at once
    path = f"/v1/contexts/business/biz_race_{time.time_ns()}"

    # When they put it together
    replies = at_once([lambda: server.call("PUT", path, json=BUSINESS)] * 10)

    # Then exactly one created it (201) and nine replaced it (200): each write saw the item as the
    # write before it left it (the emulation's DynamoDB runs a put and its ReturnValues as one step)
    assert sorted(r.status_code for r in replies) == [200] * 9 + [201], [r.text for r in replies]
    assert len({r.json()["created_at"] for r in replies}) == 1


def test_concurrent_cancel_and_delete_of_a_thread_end_deleted_and_stopped(server: Server) -> None:
    # Given threads waiting for a human (the suspicious sample business is escalated to review)
    suspicious = json.loads((ROOT / "events" / "businesses" / "suspicious.json").read_text())
    assert server.call("PUT", "/v1/contexts/business/biz_review", json=suspicious).status_code in (200, 201)
    threads = [create_thread(server, "biz_review")["id"] for _ in range(3)]
    for thread_id in threads:
        assert wait_for_status(server, thread_id, "interrupted", timeout=60)["status"] == "interrupted"

    for thread_id in threads:
        # When one client cancels a thread while another deletes it
        cancel, delete = at_once(
            [
                partial(server.call, "POST", f"/v1/threads/{thread_id}/cancel"),
                partial(server.call, "DELETE", f"/v1/threads/{thread_id}"),
            ]
        )

        # Then neither fails: the delete wins, the cancel either came first or finds it gone or finished
        assert delete.status_code == 200, delete.text
        assert delete.json()["deleted"] is True and delete.json()["status"] == "cancelled"
        assert cancel.status_code in (200, 404, 409), cancel.text
        if cancel.status_code == 200:
            assert cancel.json()["status"] == "cancelled"

    # And every thread is gone, listed nowhere, and its execution stopped
    for thread_id in threads:
        assert server.call("GET", f"/v1/threads/{thread_id}").status_code == 404
        assert server.call("GET", f"/thread/{thread_id}").status_code == 404
    listed = server.call("GET", "/v1/threads", params={"per_page": 100}).json()["data"]
    assert not {t["id"] for t in listed} & set(threads)
    deadline = time.monotonic() + 15
    while True:
        found = executions_named(server, set(threads))
        if all(statuses != ["RUNNING"] for statuses in found.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert found == {name: ["ABORTED"] for name in threads}


# ----- paths, methods, bodies, as API Gateway ----------------------------------------------------


def test_percent_encoded_path_parameters_are_decoded(server: Server) -> None:
    # Given a thread
    assert server.call("PUT", "/v1/contexts/business/biz_paths", json=BUSINESS).status_code in (200, 201)
    thread_id = create_thread(server, "biz_paths")["id"]

    # When its id is sent percent-encoded, every character of it (sent as is: http.client, not requests)
    native = server.raw("GET", f"/v1/threads/{percent_encoded(thread_id)}")
    agentuity = server.raw("GET", f"/api/thread/{percent_encoded(thread_id)}")
    steps = server.raw("GET", f"/v1/threads/{thread_id[:8]}%2d{thread_id[9:]}/steps")

    # Then the handlers get it decoded, and find the thread, in both dialects and under the stage
    assert (native.status, native.json()["id"]) == (200, thread_id), native.text
    assert (agentuity.status, agentuity.json()["data"]["id"]) == (200, thread_id), agentuity.text
    assert steps.status == 200, steps.text

    # When a path parameter holds an encoded slash
    slashed = server.raw("GET", f"/v1/threads/{thread_id[:8]}%2F{thread_id[9:]}")
    split = server.raw("GET", f"/v1/threads/{thread_id[:8]}/{thread_id[9:]}")

    # Then it stays one parameter, as sent (the route matches; the handler finds no such thread),
    # where a real slash is another path (no route)
    assert slashed.status == 404 and slashed.json()["errors"][0]["code"] == "not_found", slashed.text
    assert f"{thread_id[:8]}%2F{thread_id[9:]}" in slashed.json()["errors"][0]["message"]
    assert (split.status, split.json()["errors"]) == (404, [NO_ROUTE])

    # And an escape that is not UTF-8 is the gateway's 400
    invalid = server.raw("GET", "/v1/threads/%FF")
    assert (invalid.status, invalid.json()["errors"]) == (400, [REJECTED])


@pytest.mark.parametrize("method", ["TRACE", "FOO", "PROPFIND"])
def test_a_method_no_route_serves_is_the_dialects_json_405_or_the_gateways_404(server: Server, method: str) -> None:
    # When a method no route serves is sent to a path of each dialect, and to an unknown path
    native = server.call(method, "/v1/threads")
    agentuity = server.call(method, "/thread/any-id")
    unknown = server.call(method, "/v1/nothing-here")

    # Then a known path answers 405, in its dialect's error shape, naming the methods it serves
    for reply, resource in ((native, "/v1/threads"), (agentuity, "/thread/{thread_id}")):
        assert reply.status_code == 405, reply.text
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.headers["Allow"] == ", ".join(allowed_methods(resource))
    message = f"{method} is not allowed on /v1/threads; use {native.headers['Allow']}"
    assert native.json() == {"errors": [{"code": "method_not_allowed", "message": message, "parameter": None}]}
    assert agentuity.json()["success"] is False and agentuity.json()["code"] == "method_not_allowed"
    # And an unknown path the gateway's JSON 404
    assert (unknown.status_code, unknown.json()["errors"]) == (404, [NO_ROUTE])
    assert unknown.headers["Content-Type"] == "application/json"


def test_a_chunked_body_is_read(server: Server) -> None:
    # Given a business
    assert server.call("PUT", "/v1/contexts/business/biz_chunked", json=BUSINESS).status_code in (200, 201)
    body = json.dumps({"type": "cip_orchestrator", "business_id": "biz_chunked", "metadata": {"sent": "chunked"}})

    # When a thread is created with its body sent in chunks (requests chunks a generator's body)
    pieces = (body[i : i + 7].encode() for i in range(0, len(body), 7))
    created = server.call("POST", "/v1/threads", data=pieces, headers={"Content-Type": "application/json"})

    # Then the whole body was read
    assert created.request.headers.get("Transfer-Encoding") == "chunked"
    assert created.status_code == 201, created.text
    assert (created.json()["business_id"], created.json()["metadata"]) == ("biz_chunked", {"sent": "chunked"})

    # And a malformed chunked body, or one framed both ways, is the gateway's 400, the connection closed
    head = "POST /v1/threads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    for request in (head + "\r\nzz\r\n{}\r\n0\r\n\r\n", head + "Content-Length: 7\r\n\r\n2\r\n{}\r\n0\r\n\r\n"):
        answer = server.exchange(request.encode()).decode()
        assert answer.startswith("HTTP/1.1 400 ") and "Connection: close" in answer, answer
        assert json.loads(answer.split("\r\n\r\n", 1)[1])["errors"] == [REJECTED]


def test_no_response_names_python_or_a_version(server: Server) -> None:
    # Given responses of every kind: a handler's, the 405 function's, the gateway's 404 and 401,
    # and what http.server itself refuses (a malformed request line, a request line without a
    # version, an unknown HTTP version, headers too large)
    replies = [
        server.call("GET", "/v1/threads"),
        server.call("TRACE", "/v1/threads"),
        server.call("GET", "/nothing"),
        server.call("GET", "/v1/threads", key=""),
    ]
    refused = [
        b"G(T /v1/threads HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/threads\r\n\r\n",
        b"GET /v1/threads HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /v1/threads HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
    ]
    answers = [server.exchange(request).decode() for request in refused]

    # Then each names the server without a version, and nothing in it names Python
    for reply in replies:
        assert reply.headers.get("Server") == SERVER_NAME
        assert "python" not in (str(reply.headers) + reply.text).lower()
    for answer in answers:
        head, _, text = answer.partition("\r\n\r\n")
        assert f"\r\nServer: {SERVER_NAME}\r\n" in head and "python" not in answer.lower(), answer
        assert head.split(" ", 2)[1] in ("400", "431", "505") and json.loads(text)["errors"] == [REJECTED]
