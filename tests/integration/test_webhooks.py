"""Webhooks end to end on moto: endpoints through the API, the event log's stream fanned out to
the delivery queue, deliveries POSTed to a real HTTP receiver on 127.0.0.1 (the loopback allowance
on, as the local server's --allow-loopback-webhooks sets it) and verified there with the
Standard Webhooks library, retries, the delivery log, redelivery, and tenancy."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import standardwebhooks
from threadline import clients, wiring
from threadline.models.events import Event
from threadline.store import keys as store_keys
from threadline.webhooks import sender
from threadline_tools.provision import Deployment

from tests.conftest import Api, Keys, deliver_webhooks, error_body

ORG = "acme"
RUN_ID = "3f0c9a1e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
THREAD_ID = "0b9f6c2e-6f2a-4c5e-9a51-6d1f0f3c2a7b"


# ----- a receiver: a real HTTP server on 127.0.0.1 ---------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    path: str
    at: float


@dataclass
class Receiver:
    """An HTTP server answering each POST with the next of ``statuses`` (then ``default``),
    after ``delay`` seconds; it keeps what it received."""

    url: str = ""
    statuses: deque[int] = field(default_factory=deque)
    default: int = 204
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)

    def answer(self) -> int:
        return self.statuses.popleft() if self.statuses else self.default


@pytest.fixture
def receivers() -> Iterator[Any]:
    """Makes receivers; stops them all at the end."""
    servers: list[ThreadingHTTPServer] = []

    def make(*statuses: int, default: int = 204, delay: float = 0.0) -> Receiver:
        receiver = Receiver(statuses=deque(statuses), default=default, delay=delay)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.received.append(Received(headers, body, self.path, time.monotonic()))
                time.sleep(receiver.delay)
                status = receiver.answer()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/threadline"
        return receiver

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def loopback(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    """The local server's allowance of loopback receivers, and a retry schedule of no waits."""
    monkeypatch.setenv("THREADLINE_WEBHOOKS_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("THREADLINE_WEBHOOK_RETRY_SCALE", "0")
    wiring.reset()


# ----- helpers ----------------------------------------------------------------------------------

_SEQUENCE = iter(range(1000, 10**6))


def record_event(org_id: str = ORG, event_type: str = "run.completed", run_id: str = RUN_ID) -> Event:
    """An event in the log, as the event writer records it."""
    event_id = store_keys.event_id(str(next(_SEQUENCE)), 0)
    created_at = "2026-11-22T09:31:00.000Z"
    body = {
        "object": "event",
        "id": event_id,
        "type": event_type,
        "created_at": created_at,
        "data": {"object": {"object": "run", "id": run_id, "thread_id": THREAD_ID, "status": "completed"}},
    }
    event = Event(
        id=event_id,
        type=event_type,  # type: ignore[arg-type]
        org_id=org_id,
        project_id="default",
        thread_id=THREAD_ID,
        run_id=run_id,
        created_at=created_at,
        body=json.dumps(body, separators=(",", ":")),
    )
    wiring.event_store().record(event)
    return event


def create_endpoint(api: Api, url: str, key: str | None = None, **fields: Any) -> dict[str, Any]:
    reply = api.call("POST", "/v1/webhook_endpoints", body={"url": url, **fields}, key=key)
    assert reply.status == 201, reply.body
    body: dict[str, Any] = reply.json()
    return body


def webhook_items(deployment: Deployment) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = clients.dynamodb().scan(TableName=deployment.webhooks_table)["Items"]
    return items


def deliveries(api: Api, endpoint_id: str, key: str | None = None, **query: Any) -> list[dict[str, Any]]:
    reply = api.call("GET", f"/v1/webhook_endpoints/{endpoint_id}/deliveries", key=key, query=query or None)
    assert reply.status == 200, reply.body
    data: list[dict[str, Any]] = reply.json()["data"]
    return data


def verified(secret: str, received: Received) -> Any:
    """The delivery as the Standard Webhooks library verifies it (raises if it does not)."""
    return standardwebhooks.Webhook(secret).verify(received.body, received.headers)


# ----- endpoints --------------------------------------------------------------------------------


def test_an_endpoint_is_created_with_a_secret_shown_once_and_stored_sealed(
    api: Api, deployment: Deployment, public_dns: dict[str, list[str]]
) -> None:
    # When an endpoint is registered
    created = create_endpoint(
        api, "https://hooks.example.com/threadline?src=tl", events=["run.completed"], description="CRM sync"
    )

    # Then the reply has the endpoint and its Standard Webhooks secret (whsec_ + base64 of 32 bytes)
    assert created["object"] == "webhook_endpoint"
    assert created["id"].startswith("we_")
    assert created["url"] == "https://hooks.example.com/threadline?src=tl"
    assert created["events"] == ["run.completed"]
    assert created["description"] == "CRM sync"
    assert created["org_id"] == ORG
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32

    # And the list shows it without its secret
    listed = api.call("GET", "/v1/webhook_endpoints").json()
    assert listed == {
        "object": "list",
        "data": [{k: v for k, v in created.items() if k != "secret"}],
        "has_more": False,
    }

    # And the stored item holds the secret sealed, never in plain text
    (item,) = webhook_items(deployment)
    assert "B" in item["secret_sealed"]
    stored = json.dumps(item, default=str)
    assert secret not in stored and secret.removeprefix("whsec_") not in stored


def test_an_endpoint_without_events_receives_every_type(api: Api, public_dns: dict[str, list[str]]) -> None:
    created = create_endpoint(api, "https://hooks.example.com/all")
    assert created["events"] is None


def test_an_endpoint_is_deleted_once(api: Api, deployment: Deployment, public_dns: dict[str, list[str]]) -> None:
    # Given an endpoint
    created = create_endpoint(api, "https://hooks.example.com/a")

    # When it is deleted
    reply = api.call("DELETE", f"/v1/webhook_endpoints/{created['id']}")

    # Then it answers the endpoint, marked deleted; it is gone from the list and the table
    assert reply.status == 200, reply.body
    assert reply.json() == {**{k: v for k, v in created.items() if k != "secret"}, "deleted": True}
    assert api.call("GET", "/v1/webhook_endpoints").json()["data"] == []
    assert webhook_items(deployment) == []
    # And a second delete is a 404
    again = api.call("DELETE", f"/v1/webhook_endpoints/{created['id']}")
    assert again.status == 404
    assert again.json() == error_body("not_found", f"No webhook endpoint {created['id']}")


@pytest.mark.parametrize(
    ("body", "message", "parameter"),
    [
        ({}, "url is required", "url"),
        ({"url": 42}, "url: Input should be a valid string", "url"),
        ({"url": ""}, "url: String should have at least 1 character", "url"),
        ({"url": "https://hooks.example.com/", "events": []}, None, "events"),
        ({"url": "https://hooks.example.com/", "events": ["run.exploded"]}, None, "events"),
        ({"url": "https://hooks.example.com/", "secret": "whsec_AAAA"}, "secret is not a known parameter", "secret"),
        ({"url": "https://hooks.example.com/", "description": "x" * 501}, None, "description"),
        ({"url": "https://hooks.example.com/" + "a" * 2048}, None, "url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    api: Api,
    deployment: Deployment,
    public_dns: dict[str, list[str]],
    body: dict[str, Any],
    message: str | None,
    parameter: str,
) -> None:
    reply = api.call("POST", "/v1/webhook_endpoints", body=body)

    assert reply.status == 400, reply.body
    (error,) = reply.json()["errors"]
    assert error["code"] == "invalid_parameter"
    assert error["parameter"] == parameter
    if message is not None:
        assert error["message"] == message
    assert webhook_items(deployment) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/", "url must use https"),
        ("ftp://hooks.example.com/", "url must use https"),
        ("https://user:pass@hooks.example.com/", "url must not contain credentials"),
        ("https://hooks.example.com/#frag", "url must not have a fragment"),
        ("https://[::1/", "url is not a valid URL"),
        ("https:///nohost", "url must name a host"),
        (
            "https://10.0.0.1/",
            "url host 10.0.0.1 resolves to a private address (10.0.0.1): webhooks go to public hosts",
        ),
        ("https://192.168.1.20/", None),
        ("https://172.16.0.1/", None),
        (
            "https://127.0.0.1/",
            "url host 127.0.0.1 resolves to a loopback address (127.0.0.1): webhooks go to public hosts",
        ),
        ("https://localhost/", None),
        ("https://169.254.169.254/latest/meta-data/", "url host 169.254.169.254 resolves to a link-local address"),
        ("https://[::1]/", "url host ::1 resolves to a loopback address (::1)"),
        ("https://[::ffff:127.0.0.1]/", "url host ::ffff:127.0.0.1 resolves to a loopback address"),
        ("https://[::ffff:169.254.169.254]/", "resolves to a link-local address"),
        ("https://[fe80::1]/", "resolves to a link-local address"),
        ("https://[fd00:ec2::254]/", "resolves to a private address"),
        ("https://100.64.0.7/", "resolves to a shared (carrier-grade NAT) address"),
        ("https://224.0.0.1/", "resolves to a multicast address"),
        ("https://0.0.0.0/", "resolves to an unspecified address"),
        ("https://2130706433/", "resolves to a loopback address"),  # 127.0.0.1 written as a number
        ("http://127.0.0.1:8080/", "url must use https"),  # loopback receivers only where allowed
    ],
)
def test_urls_that_could_reach_inside_are_refused(
    api: Api, deployment: Deployment, public_dns: dict[str, list[str]], url: str, message: str | None
) -> None:
    reply = api.call("POST", "/v1/webhook_endpoints", body={"url": url})

    assert reply.status == 400, reply.body
    (error,) = reply.json()["errors"]
    assert (error["code"], error["parameter"]) == ("invalid_parameter", "url")
    if message is not None:
        assert message in error["message"], error["message"]
    assert webhook_items(deployment) == []


def test_a_host_name_resolving_to_a_private_address_is_refused(
    api: Api, deployment: Deployment, public_dns: dict[str, list[str]]
) -> None:
    # Given a public-looking name whose DNS answers a private address among public ones
    public_dns["internal.example.com"] = ["93.184.215.14", "10.1.2.3"]

    reply = api.call("POST", "/v1/webhook_endpoints", body={"url": "https://internal.example.com/hook"})

    assert reply.status == 400
    assert reply.json() == error_body(
        "invalid_parameter",
        "url host internal.example.com resolves to a private address (10.1.2.3): webhooks go to public hosts",
        "url",
    )
    assert webhook_items(deployment) == []


def test_a_host_that_does_not_resolve_is_refused(api: Api, public_dns: dict[str, list[str]]) -> None:
    reply = api.call("POST", "/v1/webhook_endpoints", body={"url": "https://no-such-host.invalid/hook"})
    assert reply.status == 400
    assert reply.json() == error_body("invalid_parameter", "url host no-such-host.invalid cannot be resolved", "url")


def test_writing_needs_the_write_scope_and_a_key_of_the_whole_org(
    api: Api, keys: Keys, deployment: Deployment, public_dns: dict[str, list[str]]
) -> None:
    reader = keys.create(ORG, scopes=("read",))
    project_key = keys.create(ORG, project_id="p1")

    for key in (reader, project_key):
        reply = api.call("POST", "/v1/webhook_endpoints", body={"url": "https://hooks.example.com/"}, key=key)
        assert reply.status == 403, reply.body
        assert reply.json()["errors"][0]["code"] == "forbidden"
    assert webhook_items(deployment) == []
    # A read key reads
    assert api.call("GET", "/v1/webhook_endpoints", key=reader).status == 200


def test_another_tenants_endpoints_deliveries_and_events_are_never_visible(
    api: Api, keys: Keys, deployment: Deployment, public_dns: dict[str, list[str]]
) -> None:
    # Given an endpoint and an event of acme
    mine = create_endpoint(api, "https://hooks.example.com/acme")
    event = record_event()
    other = keys.create("globex")

    # Then globex lists no endpoint, and acme's ids are 404s to it, as ids that never existed
    assert api.call("GET", "/v1/webhook_endpoints", key=other).json()["data"] == []
    endpoint_path = f"/v1/webhook_endpoints/{mine['id']}"
    assert api.call("GET", f"{endpoint_path}/deliveries", key=other).status == 404
    assert api.call("DELETE", endpoint_path, key=other).status == 404
    assert api.call("POST", f"/v1/events/{event.id}/redeliver", key=other).status == 404
    # And globex cannot send acme's event to its own endpoint, nor its own event to acme's
    theirs = create_endpoint(api, "https://hooks.example.com/globex", key=other)
    reply = api.call("POST", f"/v1/events/{event.id}/redeliver", body={"endpoint_id": theirs["id"]}, key=other)
    assert reply.status == 404
    their_event = record_event("globex")
    reply = api.call("POST", f"/v1/events/{their_event.id}/redeliver", body={"endpoint_id": mine["id"]}, key=other)
    assert reply.status == 404
    assert reply.json() == error_body("not_found", f"No webhook endpoint {mine['id']}", "endpoint_id")
    # And acme's endpoint is still there
    assert [e["id"] for e in api.call("GET", "/v1/webhook_endpoints").json()["data"]] == [mine["id"]]


# ----- delivery ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("loopback")
def test_a_failed_delivery_is_retried_signed_and_both_attempts_are_logged(api: Api, receivers: Any) -> None:
    # Given a receiver that fails the first time, and an endpoint for it
    receiver = receivers(500)
    endpoint = create_endpoint(api, receiver.url, events=["run.completed"])

    # When an event is recorded and deliveries run
    event = record_event()
    deliver_webhooks()

    # Then the receiver got it twice, each time signed as Standard Webhooks says
    assert len(receiver.received) == 2
    for received in receiver.received:
        assert verified(endpoint["secret"], received) == json.loads(event.body)
        assert received.body == event.body
        assert received.path == "/hooks/threadline"
        assert received.headers["webhook-id"] == event.id  # the same on the retry: receivers drop repeats
        assert received.headers["content-type"] == "application/json"
        assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60
    # And a wrong secret does not verify
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        verified("whsec_" + base64.b64encode(b"x" * 32).decode(), receiver.received[0])

    # And the log shows both attempts, newest first
    second, first = deliveries(api, endpoint["id"])
    assert first["object"] == "webhook_delivery_attempt"
    assert (first["attempt"], first["status"], first["http_status"], first["state"]) == (1, "failed", 500, "retrying")
    assert first["next_attempt_at"] is not None and first["error"] is None
    assert (second["attempt"], second["status"], second["http_status"], second["state"]) == (
        2,
        "succeeded",
        204,
        "delivered",
    )
    assert second["next_attempt_at"] is None
    assert first["delivery_id"] == second["delivery_id"]
    assert {first["event_id"], second["event_id"]} == {event.id}
    assert all(a["duration_ms"] >= 0 and a["attempted_at"].endswith("Z") for a in (first, second))


@pytest.mark.usefixtures("loopback")
def test_only_subscribed_types_are_delivered(api: Api, receivers: Any) -> None:
    completed_only = receivers()
    everything = receivers()
    create_endpoint(api, completed_only.url, events=["run.completed"])
    create_endpoint(api, everything.url)

    created = record_event(event_type="run.created")
    completed = record_event(event_type="run.completed")
    deliver_webhooks()

    assert [r.headers["webhook-id"] for r in completed_only.received] == [completed.id]
    assert sorted(r.headers["webhook-id"] for r in everything.received) == sorted([created.id, completed.id])


@pytest.mark.usefixtures("loopback")
def test_a_delivery_that_keeps_failing_is_kept_as_failed_after_the_schedule(api: Api, receivers: Any) -> None:
    receiver = receivers(default=503)
    endpoint = create_endpoint(api, receiver.url)

    record_event()
    deliver_webhooks(rounds=20)

    # Eight attempts (the first and seven retries over ~27.6 hours, here with no waits), then failed
    assert len(receiver.received) == 8
    log = deliveries(api, endpoint["id"])
    assert [a["attempt"] for a in log] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert log[0]["state"] == "failed" and log[0]["next_attempt_at"] is None
    assert all(a["state"] == "retrying" for a in log[1:])
    # The log pages, newest first
    page = api.call("GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries", query={"limit": 3}).json()
    assert [a["attempt"] for a in page["data"]] == [8, 7, 6] and page["has_more"]
    rest = deliveries(api, endpoint["id"], cursor=page["next_cursor"])
    assert [a["attempt"] for a in rest] == [5, 4, 3, 2, 1]
    bad = api.call("GET", f"/v1/webhook_endpoints/{endpoint['id']}/deliveries", query={"cursor": "bm9wZQ"})
    assert bad.status == 400
    assert bad.json() == error_body("invalid_parameter", "cursor is not a cursor of this list", "cursor")


@pytest.mark.usefixtures("loopback")
def test_an_event_is_redelivered_on_request(api: Api, receivers: Any) -> None:
    # Given an event delivered to two endpoints
    first, second = receivers(), receivers()
    one = create_endpoint(api, first.url)
    create_endpoint(api, second.url)
    event = record_event()
    deliver_webhooks()
    assert (len(first.received), len(second.received)) == (1, 1)

    # When it is redelivered to every endpoint
    reply = api.call("POST", f"/v1/events/{event.id}/redeliver")
    assert reply.status == 202, reply.body
    assert reply.json()["object"] == "redelivery" and len(reply.json()["deliveries"]) == 2
    deliver_webhooks()
    # Then each receives it again, the same event, verifiable
    assert (len(first.received), len(second.received)) == (2, 2)
    assert first.received[1].headers["webhook-id"] == event.id

    # When it is redelivered to one endpoint
    reply = api.call("POST", f"/v1/events/{event.id}/redeliver", body={"endpoint_id": one["id"]})
    assert reply.status == 202
    (queued,) = reply.json()["deliveries"]
    deliver_webhooks()
    assert (len(first.received), len(second.received)) == (3, 2)
    verified(one["secret"], first.received[2])
    # And the log shows three deliveries of the event, the last one's id as the reply said
    log = deliveries(api, one["id"])
    assert len({a["delivery_id"] for a in log}) == 3
    assert log[0]["delivery_id"] == queued["delivery_id"]


@pytest.mark.usefixtures("loopback")
def test_redelivering_what_does_not_exist_is_a_404_and_queues_nothing(api: Api, deployment: Deployment) -> None:
    missing = store_keys.event_id("99999999", 0)
    reply = api.call("POST", f"/v1/events/{missing}/redeliver")
    assert reply.status == 404
    assert reply.json() == error_body("not_found", f"No event {missing}")
    event = record_event()
    reply = api.call("POST", f"/v1/events/{event.id}/redeliver", body={"endpoint_id": "we_000000000000000000000000"})
    assert reply.status == 404
    reply = api.call("POST", f"/v1/events/{event.id}/redeliver", body={"endpoint": "x"})
    assert reply.status == 400
    assert deliver_webhooks() == 0


@pytest.mark.usefixtures("loopback")
def test_a_deleted_endpoint_gets_nothing_more(api: Api, receivers: Any) -> None:
    receiver = receivers()
    endpoint = create_endpoint(api, receiver.url)
    record_event()
    api.call("DELETE", f"/v1/webhook_endpoints/{endpoint['id']}")

    deliver_webhooks()

    assert receiver.received == []


@pytest.mark.usefixtures("loopback")
def test_a_slow_endpoint_does_not_delay_another(api: Api, receivers: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a receiver slower than the timeout (here 1 s), and a quick one
    monkeypatch.setattr(sender, "DEFAULT_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setenv("THREADLINE_WEBHOOK_RETRY_SCALE", "1")  # (its retry is not due within the test)
    wiring.reset()
    slow, quick = receivers(delay=3.0), receivers()
    slow_endpoint = create_endpoint(api, slow.url)
    create_endpoint(api, quick.url)
    record_event()

    # When the deliveries run (one message per endpoint, in one batch)
    started = time.monotonic()
    deliver_webhooks(rounds=1)

    # Then the quick one had it at once, and the slow one's attempt timed out and is retried
    assert len(quick.received) == 1 and quick.received[0].at - started < 0.9
    (attempt,) = deliveries(api, slow_endpoint["id"])
    assert attempt["status"] == "failed" and attempt["http_status"] is None
    assert attempt["error"] == "timed out after 1 s"
    assert attempt["state"] == "retrying"


@pytest.mark.usefixtures("loopback")
def test_a_host_that_now_resolves_inward_is_not_contacted(
    api: Api, receivers: Any, public_dns: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an endpoint whose name resolved to a public address when it was registered
    receiver = receivers()
    port = receiver.url.split(":")[2].split("/")[0]
    public_dns["rebind.example.com"] = ["93.184.215.14"]
    endpoint = create_endpoint(api, f"https://rebind.example.com:{port}/hook")
    # When its DNS answer turns to a private address before the delivery (DNS rebinding)
    public_dns["rebind.example.com"] = ["10.0.0.8"]
    monkeypatch.setenv("THREADLINE_WEBHOOK_RETRY_SCALE", "1")  # (its retry is not due within the test)
    wiring.reset()
    record_event()
    deliver_webhooks(rounds=1)

    # Then nothing was sent, and the attempts say why
    assert receiver.received == []
    (attempt,) = deliveries(api, endpoint["id"])
    assert attempt["error"].startswith("url host rebind.example.com resolves to a private address (10.0.0.8)")
    assert attempt["http_status"] is None and attempt["state"] == "retrying"


@pytest.mark.usefixtures("loopback")
def test_a_delivery_connects_to_the_checked_address_and_names_the_host(
    api: Api, receivers: Any, public_dns: dict[str, list[str]]
) -> None:
    # Given a name that resolves to the (loopback) receiver: the connection goes to that address,
    # and the request still names the host
    receiver = receivers()
    port = receiver.url.split(":")[2].split("/")[0]
    public_dns["receiver.localhost"] = ["127.0.0.1"]
    create_endpoint(api, f"http://receiver.localhost:{port}/in")

    record_event()
    deliver_webhooks()

    (received,) = receiver.received
    assert received.headers["host"] == f"receiver.localhost:{port}"
    assert received.path == "/in"


@pytest.mark.usefixtures("loopback")
def test_a_message_whose_processing_crashes_goes_to_the_dead_letter_queue(deployment: Deployment) -> None:
    # Given a delivery message the deliverer cannot read, on a queue that hands it back at once
    sqs = clients.sqs()
    sqs.set_queue_attributes(QueueUrl=deployment.webhook_queue_url, Attributes={"VisibilityTimeout": "0"})
    sqs.send_message(QueueUrl=deployment.webhook_queue_url, MessageBody='{"not": "a delivery"}')

    # When deliveries run until the queue gives up on it (its RedrivePolicy: 5 receives)
    deliver_webhooks(rounds=10)

    # Then it waits in the dead-letter queue, which the alarm watches
    moved = sqs.receive_message(QueueUrl=deployment.webhook_dead_letter_queue_url).get("Messages", [])
    assert [m["Body"] for m in moved] == ['{"not": "a delivery"}']


# ----- end to end: a real run's events, recorded from its stored changes -----------------------


@pytest.mark.usefixtures("loopback", "stop_leftovers")
def test_a_runs_events_reach_the_receiver_as_they_happen(api: Api, deployment: Deployment, receivers: Any) -> None:
    from tests.conftest import business_document, drain_events, put_business
    from tests.integration.test_runs import action, started, steps_of, wait_for_run

    # Given an endpoint receiving the run's start, interruption and end
    receiver = receivers()
    endpoint = create_endpoint(api, receiver.url, events=["run.created", "run.interrupted", "run.completed"])

    # When a run on a suspicious business waits for a human review, and is approved
    put_business(api, "biz-suspicious", document=business_document("suspicious"))
    run = started(api, business_id="biz-suspicious")
    waiting = wait_for_run(api, deployment, run, "interrupted")
    drain_events()
    deliver_webhooks()
    # Then the receiver has heard of its start and its interruption (deliveries run side by side,
    # so they may arrive in any order: event ids give the order, increasing within a thread)
    assert sorted(json.loads(r.body)["type"] for r in receiver.received) == ["run.created", "run.interrupted"]

    review = steps_of(waiting)["human_review"]["id"]
    assert action(api, run["id"], type="decision", interrupt_id=review, decision="approve").status == 200
    wait_for_run(api, deployment, run, "completed")
    drain_events()
    deliver_webhooks()

    # And then of its end: each event once, signed, the run as it was then
    payloads = sorted((verified(endpoint["secret"], r) for r in receiver.received), key=lambda p: p["id"])
    assert [p["type"] for p in payloads] == ["run.created", "run.interrupted", "run.completed"]
    assert all(p["object"] == "event" and p["data"]["object"]["id"] == run["id"] for p in payloads)
    assert payloads[-1]["data"]["object"]["status"] == "completed"
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == [p["id"] for p in payloads]
    assert all(a["state"] == "delivered" for a in deliveries(api, endpoint["id"]))


# ----- the schedule past SQS's longest delay -----------------------------------------------------


def queued(deployment: Deployment) -> list[tuple[dict[str, Any], float]]:
    """The delivery queue's messages (delayed ones too, which no receive shows) and how many
    seconds each is still delayed, read from moto's state."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[deployment.webhook_queue_url.rsplit("/", 1)[1]]
    return [(json.loads(m.body), max(0.0, m.delayed_until / 1000 - time.time())) for m in queue._messages]


@pytest.mark.usefixtures("loopback")
def test_a_retry_due_later_than_sqs_can_delay_waits_in_fifteen_minute_steps(
    api: Api, deployment: Deployment, receivers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from threadline.logic.webhooks import RetrySchedule, deliver, record_attempt
    from threadline.models.webhooks import DeliveryTask, SendResult

    monkeypatch.setenv("THREADLINE_WEBHOOK_RETRY_SCALE", "1")
    wiring.reset()
    receiver = receivers()
    endpoint = create_endpoint(api, receiver.url)
    event = record_event()
    task = DeliveryTask(
        org_id=ORG, endpoint_id=endpoint["id"], event_id=event.id, run_id=RUN_ID, delivery_id="dlv_x", attempt=3
    )
    store, queue = wiring.webhook_store(), wiring.webhook_queue()

    # When the third attempt fails (the next is due 30 minutes later)
    now = time.time()
    record_attempt(task, SendResult(http_status=502), now, store=store, queue=queue, schedule=RetrySchedule())

    # Then the fourth is queued with SQS's longest delay and the time it is due
    ((message, delayed),) = queued(deployment)
    assert message["attempt"] == 4 and message["not_before"] == math.ceil(now + 1800)
    assert 890 < delayed <= 900
    (logged,) = deliveries(api, endpoint["id"])
    assert (logged["state"], logged["http_status"]) == ("retrying", 502)

    def deliver_at(moment: float) -> Any:
        return deliver(
            DeliveryTask.model_validate(message),
            store=store,
            events=wiring.event_store(),
            queue=queue,
            sender=wiring.webhook_sender(),
            schedule=RetrySchedule(),
            clock=lambda: moment,
        )

    # When that message comes back before it is due, it is queued again for the rest of the wait,
    # and nothing is sent or logged
    assert deliver_at(now + 900) is None and receiver.received == []
    assert [m["attempt"] for m, _ in queued(deployment)] == [4, 4]
    assert len(deliveries(api, endpoint["id"])) == 1

    # And once due, it is sent
    assert deliver_at(now + 1801) is not None
    assert len(receiver.received) == 1


# ----- the functions' events files, as `sam local invoke -e` uses them ---------------------------


@pytest.mark.usefixtures("loopback")
def test_the_events_files_fan_out_and_deliver(api: Api, deployment: Deployment, receivers: Any) -> None:
    from tests.conftest import invoke, load_event

    # Given an endpoint of acme
    receiver = receivers()
    endpoint = create_endpoint(api, receiver.url, events=["run.completed"])

    # When fan_out_webhooks takes its events file (a run.completed of acme inserted)
    assert invoke("fan_out_webhooks", load_event("fan_out_webhooks.json")) == {"batchItemFailures": []}

    # Then one delivery to the endpoint is queued, naming the event and its run
    ((message, _),) = queued(deployment)
    inserted = load_event("fan_out_webhooks.json")["Records"][0]["dynamodb"]["NewImage"]
    assert (message["endpoint_id"], message["event_id"], message["run_id"], message["attempt"]) == (
        endpoint["id"],
        inserted["id"]["S"],
        inserted["run_id"]["S"],
        1,
    )
    # And deliver_webhooks takes its events file: an endpoint that no longer exists is skipped
    assert invoke("deliver_webhooks", load_event("deliver_webhooks.json")) == {"batchItemFailures": []}
    assert receiver.received == []
