"""Log hygiene: API keys, secrets, user_data and KMS plaintext never reach the logs.

Everything the process logs is captured while every route is called, a whole workflow runs
with a user_data value, and errors happen (401s carrying a real key in a malformed header, a
403, 404s, 400s quoting user_data, 500s and 503s whose exception messages hold user_data and a
key, a user_data that no longer decrypts): the JSON lines of the functions' Powertools logger
(at DEBUG, stricter than the template's INFO), any other logger's records with their extras,
and file descriptors 1 and 2.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from threadline import clients
from threadline.auth.api_keys import KEY_PATTERN
from threadline.store import keys as store_keys
from threadline.store.items import serialize
from threadline.store.threads import ThreadStore
from threadline.workflow.executions import WorkflowRunner
from threadline_tools.provision import Deployment
from threadline_tools.template import ROOT, load_module, resources, template, template_routes

from tests.conftest import (
    Api,
    Keys,
    business_document,
    describe_execution,
    drain_events,
    put_business,
    reconcile,
    settle,
    wait_for_thread,
)

pytestmark = pytest.mark.usefixtures("stop_leftovers")

USER_DATA = "user-data-7f3c9a-do-not-log"
NEW_USER_DATA = "user-data-b41e07-replaced-do-not-log"


class _Records(logging.Handler):
    """Every record a logger handles, with its extras and exception, as text; but moto's (the
    emulation is no part of what is deployed)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] == "moto":
            return
        exception = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        self.lines.append(f"{record.getMessage()} {record.__dict__!r} {exception}")


class LogOutput:
    """What the process logged while the fixture was active."""

    def __init__(self, capfd: pytest.CaptureFixture[str], streams: list[io.StringIO], records: _Records) -> None:
        self._capfd, self._streams, self._records = capfd, streams, records

    def text(self) -> tuple[str, str]:
        """(what was written: file descriptors and handlers' streams, the records as logged)."""
        out, err = self._capfd.readouterr()
        return "\n".join([out, err, *(stream.getvalue() for stream in self._streams)]), "\n".join(self._records.lines)


@pytest.fixture
def log_output(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[LogOutput]:
    # Every function imported first, so that every logger and handler exists: each handler's
    # stream (the one it found at import) is redirected here, and the service logger set to DEBUG.
    for function in resources("AWS::Serverless::Function"):
        load_module(function)
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    streams = []
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not type(handler).__module__.startswith("_pytest"):
                stream = io.StringIO()
                monkeypatch.setattr(handler, "stream", stream)
                streams.append(stream)
    records = _Records()
    for logger in loggers:
        if logger is logging.root or not logger.propagate:
            monkeypatch.setattr(logger, "handlers", [*logger.handlers, records])
    service = logging.getLogger("threadline")  # the functions' Powertools logger (it propagates)
    level = service.level
    service.setLevel(logging.DEBUG)
    yield LogOutput(capfd, streams, records)
    service.setLevel(level)


@pytest.fixture
def kms_plaintexts() -> list[bytes]:
    """The data keys KMS hands out in plaintext during the test."""
    seen: list[bytes] = []

    def record(parsed: dict[str, Any], **_: Any) -> None:
        if isinstance(parsed.get("Plaintext"), bytes):
            seen.append(parsed["Plaintext"])

    clients.kms().meta.events.register("after-call.kms.*", record)
    return seen


def secret_forms(key: str) -> set[str]:
    """A full API key and its secret part."""
    match = KEY_PATTERN.match(key)
    assert match is not None, key
    return {key, match.group(2)}


def plaintext_forms(data_key: bytes) -> set[str]:
    return {base64.b64encode(data_key).decode(), data_key.hex(), repr(data_key)[2:-1]}


def test_nothing_secret_is_logged(
    api: Api,
    keys: Keys,
    deployment: Deployment,
    log_output: LogOutput,
    kms_plaintexts: list[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given keys of every kind, and a business to work on
    read_only, other_org = keys.create(scopes=("read",)), keys.create("globex")
    project_key, revoked = keys.create(project_id="beta"), keys.create()
    keys.revoke(revoked)
    put_business(api, "biz-log", document=business_document("suspicious"))
    called: set[tuple[str, str]] = set()

    def call(method: str, path: str, route: str, **kwargs: Any) -> Any:
        called.add((method, route))
        return api.call(method, path, **kwargs)

    # When a thread with user_data runs its whole workflow, through every route
    body = {"type": "cip_orchestrator", "business_id": "biz-log", "metadata": {"ref": "r-1"}, "user_data": USER_DATA}
    once = {"Idempotency-Key": "log-hygiene-1"}  # its recorded response holds user_data
    created = call("POST", "/v1/threads", "/v1/threads", body=body, headers=once)
    assert created.status == 201, created.body
    thread_id = created.json()["id"]
    assert api.call("POST", "/v1/threads", body=body, headers=once).status == 201  # replayed
    thread_path = f"/v1/threads/{thread_id}"
    waiting = wait_for_thread(api, deployment, thread_id, "interrupted")
    review = next(step for step in waiting["steps"] if step["name"] == "human_review")
    assert call("GET", "/v1/threads", "/v1/threads", query={"metadata": '{"ref": "r-1"}'}).status == 200
    assert call("GET", "/thread", "/thread").status == 200
    assert call("GET", thread_path, "/v1/threads/{thread_id}").status == 200
    assert call("GET", f"/thread/{thread_id}", "/thread/{thread_id}").status == 200
    assert call("GET", f"{thread_path}/steps", "/v1/threads/{thread_id}/steps").status == 200
    patched = call("PATCH", thread_path, "/v1/threads/{thread_id}", body={"user_data": NEW_USER_DATA})
    assert patched.status == 200, patched.body
    resolve = "/v1/threads/{thread_id}/steps/{step_id}/resolve"
    resolved = call("POST", f"{thread_path}/steps/{review['id']}/resolve", resolve, body={"decision": "approve"})
    assert resolved.status == 200, resolved.body
    assert wait_for_thread(api, deployment, thread_id, "completed")["status"] == "completed"
    assert call("DELETE", thread_path, "/v1/threads/{thread_id}").status == 200
    assert call("POST", f"{thread_path}/restore", "/v1/threads/{thread_id}/restore").status == 200
    assert call("DELETE", f"/thread/{thread_id}", "/thread/{thread_id}").status == 200

    # And a second thread is cancelled mid-run, and its end reconciled
    second = call("POST", "/v1/threads", "/v1/threads", body=body).json()["id"]
    assert call("POST", f"/v1/threads/{second}/cancel", "/v1/threads/{thread_id}/cancel").status == 200
    settle(deployment)
    reconcile(deployment)

    # And runs are started (a new thread with user_data, then again on the cancelled thread), read,
    # listed, answered, rated and cancelled
    run_body = {**body, "input": {"note": "run input"}}
    run = call("POST", "/v1/runs", "/v1/runs", body=run_body, headers={"Idempotency-Key": "log-hygiene-2"}).json()
    run_path = f"/v1/runs/{run['id']}"
    wait_for_thread(api, deployment, run["thread_id"], "interrupted")
    got = call("GET", run_path, "/v1/runs/{run_id}").json()
    assert call("GET", "/v1/runs", "/v1/runs").status == 200
    [interrupt] = got["interrupts"]
    answer = {"type": "decision", "interrupt_id": interrupt["id"], "decision": "approve", "note": "looks fine"}
    assert call("POST", f"{run_path}/actions", "/v1/runs/{run_id}/actions", body=answer).status == 200
    wait_for_thread(api, deployment, run["thread_id"], "completed")
    rating = {"artifact_type": "decision", "rating": "positive", "comment": "good"}
    assert call("POST", f"{run_path}/feedback", "/v1/runs/{run_id}/feedback", body=rating).status == 201
    drain_events()  # the event log's writer records the run's events: its stream replays them
    streamed = call("GET", f"{run_path}/stream", "/v1/runs/{run_id}/stream")
    assert streamed.status == 200 and '"type":"RUN_FINISHED"' in streamed.body, streamed.body
    listed = call("GET", "/v1/events", "/v1/events", query={"run_id": run["id"], "limit": 100})
    assert listed.status == 200 and listed.json()["data"], listed.body
    rerun = call("POST", "/v1/runs", "/v1/runs", body={"type": "cip_orchestrator", "thread_id": second}).json()
    assert call("POST", f"/v1/runs/{rerun['id']}/cancel", "/v1/runs/{run_id}/cancel").status in (200, 409)
    settle(deployment)
    reconcile(deployment)

    # And webhooks: an endpoint receives the runs' events (retried once), its log is read, an
    # event is redelivered, another endpoint is deleted (its secret must never be logged)
    webhook_secrets = _webhooks(api, deployment, call, monkeypatch)
    endpoint_id, event_id = webhook_secrets.pop("endpoint_id"), webhook_secrets.pop("event_id")

    # And the contexts and agent types are read and written
    context = "/v1/contexts/{context_type}/{context_id}"
    assert call("PUT", "/v1/contexts/business/biz-2", context, body=business_document("clean")).status == 201
    assert call("GET", "/v1/contexts/business/biz-2", context).status == 200
    assert call("DELETE", "/v1/contexts/business/biz-2", context).status == 200
    assert call("GET", "/v1/agents", "/v1/agents").status == 200
    for route in template_routes():  # and each path's 405
        if route.method == "ANY":
            path = route.path.format(
                thread_id=thread_id,
                step_id=review["id"],
                run_id=thread_id,
                context_type="business",
                context_id="x",
                endpoint_id=endpoint_id,
                event_id=event_id,
            )
            called.add(("ANY", route.path))
            assert api.call("TRACE", path).status == 405

    # And every kind of refusal and bad input, with keys and user_data in the requests
    key = api.key
    for header in (f"Token {key}", f"Bearer {key}x", key, f"Bearer {key} {key}", f"Bearer {revoked}"):
        assert api.call("GET", thread_path, key="", headers={"Authorization": header}).status == 401
    assert api.call("GET", thread_path, key="").status == 401
    assert api.call("PATCH", thread_path, body={"user_data": USER_DATA}, key=read_only).status == 403
    assert api.call("PATCH", thread_path, body={"user_data": USER_DATA}, key=other_org).status == 404
    assert api.call("GET", thread_path, key=project_key).status == 404
    assert api.call("POST", "/v1/threads", body={**body, "type": USER_DATA}).status == 400
    assert api.call("POST", "/v1/threads", body={**body, "user_data": 7, "note": USER_DATA}).status == 400
    assert api.call("PATCH", thread_path, body={"user_data": [USER_DATA]}).status == 400
    assert api.call("POST", "/v1/threads", raw_body=f'{{"user_data": "{USER_DATA}"').status == 400
    assert api.call("GET", "/v1/threads", query={"metadata": f'{{"{USER_DATA}": 1'}).status == 400

    # And storage and the workflow fail with messages that quote user_data and the key
    failure = f"failed on user_data={USER_DATA} for {key}"

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(failure)

    with monkeypatch.context() as broken:
        broken.setattr(ThreadStore, "get", fail)
        broken.setattr(ThreadStore, "create", fail)
        assert api.call("GET", thread_path).status == 500
        assert api.call("PATCH", thread_path, body={"user_data": USER_DATA}).status == 500
        assert api.call("POST", "/v1/threads", body=body).status == 500

    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": failure}}, "Query")

    with monkeypatch.context() as broken:
        broken.setattr(WorkflowRunner, "start", fail)
        assert api.call("POST", "/v1/threads", body=body).status == 503
    with monkeypatch.context() as broken:
        broken.setattr(ThreadStore, "get", throttled)
        assert api.call("GET", thread_path).status == 503
    settle(deployment)

    # And a thread's stored user_data cannot be decrypted any more, on its GET and in a list
    item = {**store_keys.user_data_key("acme", second), "user_data_enc": b"\x01\x00\x04" + failure.encode()}
    clients.dynamodb().put_item(TableName=deployment.threads_table, Item=serialize(item))
    assert api.call("GET", f"/v1/threads/{second}").status >= 500
    assert api.call("GET", "/v1/threads").status == 200

    # Then the logs were captured (the 500s' records are there) ...
    written, records = log_output.text()
    assert '"message":"unhandled error"' in written, "the functions' JSON log lines were not captured"
    assert "RuntimeError" in records
    logged = f"{written}\n{records}"
    # ... and show no key, no secret part of one, no user_data, no cursor secret, no data key
    secrets = {USER_DATA, NEW_USER_DATA, deployment.cursor_secret, *webhook_secrets.values()}
    for each in (key, read_only, other_org, project_key, revoked):
        secrets |= secret_forms(each)
    assert kms_plaintexts, "KMS handed out no data key: the check below would prove nothing"
    for data_key in kms_plaintexts:
        secrets |= plaintext_forms(data_key)
    assert sorted(secret for secret in secrets if secret in logged) == []
    # ... nor does any execution's input (Step Functions shows it in its console and history)
    for name in (thread_id, second):
        execution = json.dumps(describe_execution(deployment, name), default=str)
        assert USER_DATA not in execution and NEW_USER_DATA not in execution
    # ... and every route of template.yaml was called
    assert {(r.method, r.path) for r in template_routes()} <= called


def _webhooks(api: Api, deployment: Deployment, call: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every webhook route and both webhook functions at work; the secrets they must not log
    (and the ids of an endpoint and an event, for the 405s)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from threadline import wiring
    from threadline.settings import settings

    from tests.conftest import deliver_webhooks, drain_events

    monkeypatch.setenv("THREADLINE_WEBHOOKS_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("THREADLINE_WEBHOOK_RETRY_SCALE", "0")
    settings.cache_clear()
    wiring.webhook_sender.cache_clear()
    answers = [500]

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(answers.pop() if answers else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        collection, one = "/v1/webhook_endpoints", "/v1/webhook_endpoints/{endpoint_id}"
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        created = call("POST", collection, collection, body={"url": url, "description": USER_DATA}).json()
        other = call("POST", collection, collection, body={"url": url}).json()
        assert call("GET", collection, collection).status == 200
        assert call("DELETE", f"{collection}/{other['id']}", one).status == 200
        drain_events()
        assert deliver_webhooks() > 1
        deliveries = f"{collection}/{created['id']}/deliveries"
        logged = call("GET", deliveries, f"{one}/deliveries", query={"limit": 100}).json()["data"]
        assert 500 in {attempt["http_status"] for attempt in logged}
        event_id = clients.dynamodb().scan(TableName=deployment.events_table, Limit=1)["Items"][0]["id"]["S"]
        redeliver = call("POST", f"/v1/events/{event_id}/redeliver", "/v1/events/{event_id}/redeliver")
        assert redeliver.status == 202, redeliver.body
        assert deliver_webhooks() == 1
    finally:
        server.shutdown()
        server.server_close()
    found = {"endpoint_id": created["id"], "event_id": event_id}
    for n, secret in enumerate((created["secret"], other["secret"])):
        found[f"secret{n}"] = secret
        found[f"secret{n}_key"] = secret.removeprefix("whsec_")
    return found


def test_no_function_logs_its_event() -> None:
    # Given the functions' environment in template.yaml (Globals and each function's own), and their code
    functions = resources("AWS::Serverless::Function").values()
    variables = [template()["Globals"]["Function"].get("Environment", {}).get("Variables", {})]
    variables += [function["Properties"].get("Environment", {}).get("Variables", {}) for function in functions]
    sources = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers").rglob("*.py")]

    # Then none logs whole events (they hold the Authorization header and user_data), nor logs at DEBUG
    for found in variables:
        assert str(found.get("POWERTOOLS_LOGGER_LOG_EVENT", "false")).lower() == "false"
        assert str(found.get("POWERTOOLS_LOG_LEVEL", "INFO")).upper() != "DEBUG"
    assert [path for path in sources if "log_event=True" in path.read_text()] == []
