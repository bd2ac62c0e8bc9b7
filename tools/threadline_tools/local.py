"""The Docker-free local server: the real handlers of template.yaml's routes,
served over HTTP, on an embedded AWS emulation (moto in server mode).

    python -m threadline_tools.local [--host H] [--port N] [--api-key K] [--allow-loopback-webhooks]
    threadline dev [...same flags...]

What it does, in order:

1. binds the HTTP port, then starts moto's server in this process on a free port, with real ASL
   execution (the state machine's DynamoDB integrations really run), and points
   the handlers' plain boto3 clients at it (``AWS_ENDPOINT_URL``, fake creds);
2. creates the template's tables, KMS key and state machine
   (``threadline_tools.provision``) and sets the functions' environment;
3. stores a first API key (org ``local``, scopes read+write) unless one is given;
4. serves HTTP: each request goes through ``threadline_tools.gateway.Gateway``,
   which routes by template.yaml, runs the authorizer and invokes the handler
   in-process, exactly as API Gateway would;
5. writes ``.threadline/local.json`` so ``threadline keys --local`` finds the
   emulation's endpoint and keys table, and removes it on shutdown.

URLs: the routes are served at the root (``http://127.0.0.1:8000/v1/threads``,
``/thread``), which is the API URL printed. The deployed API's URL ends with its
stage (``.../api``); for parity the stage prefix is accepted too
(``http://127.0.0.1:8000/api/v1/threads``), so a client configured with either
form of base URL works.

Concurrency: requests are served in parallel, as Lambda serves them: each on a thread of its
own, each function invocation in an execution environment of its own (its own import of the
handler module, borrowed for one invocation at a time; see ``gateway.Environments``), so two
requests never share a resolver's current event, and races between requests really happen.
The emulation is made safe for it: one lock serialises moto's DynamoDB requests (a conditional
write's check and write, and ``ReturnValues``, are one step: ``moto_dynamodb``), concurrent
starts of one execution name start it once (``lambda_bridge``), requests share the stream
delivery that runs before them (``streams.StreamPump.catch_up``), and each thread logs with
Powertools keys of its own. A request's log line ends with ``(N at once)`` when N route
handlers were running as it started (itself included).

As API Gateway, the server also: decodes the path (``/v1/threads/%61bc`` is thread ``abc``;
an encoded slash, ``%2F``, stays in its path parameter as sent); answers any method, those no
route serves with the JSON 405 of the path's dialect (unknown paths: the gateway's JSON 404);
reads chunked request bodies (``Transfer-Encoding: chunked``; with a Content-Length too, a 400);
answers what ``http.server`` refuses (a malformed request line, headers too long) with the
gateway's JSON errors, never an HTML page; and names itself ``Server: threadline-local``,
without a version.

Webhooks run as in AWS: the event log's stream feeds the fan-out function and the delivery
queue (moto's SQS, with its delays and redrive) feeds the deliverer (``threadline_tools.queues``).
Retries are compressed (``$THREADLINE_WEBHOOK_RETRY_SCALE``, 0.002 by default: the first retry
comes within a second, the whole day-long schedule within about three minutes), and
``--allow-loopback-webhooks`` (or ``THREADLINE_WEBHOOKS_ALLOW_LOOPBACK=1``) lets endpoints be
``http://127.0.0.1:<port>`` or ``http://localhost`` receivers on this machine (docs/webhooks.md).

Everything lives in memory: stopping the server forgets every thread and key.
The authorizer runs on every request (no cache), so a revoked key fails at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

from threadline_tools.gateway import STAGE, Gateway, gateway_response
from threadline_tools.template import ROOT

READY_LINE = "Threadline local server ready"
REGION = "us-east-1"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOCAL_ORG = "local"
LOCAL_KEY_NAME = "local dev key"
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# The business of the banner's curl example (a thread on an unknown business is a 404), in the
# schema the cip agents read (threadline_agents.cip.record): complete, so the example thread is approved.
SAMPLE_BUSINESS = {
    "name": "Maple Ridge Bakery LLC",
    "dba": "Maple Ridge Bakes",
    "tin": "84-2917365",
    "entity_type": "llc",
    "formation_date": "2015-03-01",
    "formation_state": "DE",
    "address": {
        "line1": "1200 North Market Street",
        "line2": "Suite 300",
        "city": "Wilmington",
        "state": "DE",
        "postal_code": "19801",
        "country": "US",
    },
    "officers": [{"name": "Dana Whitfield", "title": "Managing Member"}],
    "website": "https://mapleridgebakery.example",
    "phone": "+1 302 555 0142",
}
MAX_BODY_BYTES = 11 * 1024 * 1024  # a little over API Gateway's 10 MB: the gateway answers 413 itself
SERVER_NAME = "threadline-local"  # the Server header: no version, no Python
LOG_AT_ONCE = re.compile(r" \((\d+) at once\)$")  # how a request log line shows its handler's concurrency
# Webhooks locally (docs/webhooks.md): loopback receivers only when asked for, and the retry
# schedule (5 s ... 10 h, over a day) compressed 500 times, so a failed delivery is retried at once
# and the whole schedule runs in about three minutes ($THREADLINE_WEBHOOK_RETRY_SCALE overrides).
ALLOW_LOOPBACK_WEBHOOKS = "THREADLINE_WEBHOOKS_ALLOW_LOOPBACK"
WEBHOOK_RETRY_SCALE = "THREADLINE_WEBHOOK_RETRY_SCALE"
LOCAL_WEBHOOK_RETRY_SCALE = "0.002"


def local_file() -> Path:
    """Where the running local server describes itself (``THREADLINE_LOCAL_FILE`` overrides)."""
    override = os.environ.get("THREADLINE_LOCAL_FILE")
    return Path(override) if override else ROOT / ".threadline" / "local.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's flags (shared by ``python -m threadline_tools.local`` and ``threadline dev``)."""
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port",
        type=_port,
        default=os.environ.get("THREADLINE_PORT") or str(DEFAULT_PORT),  # a string default goes through type=
        help=f"port to listen on; 0 picks a free one (default $THREADLINE_PORT or {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--api-key",
        type=_api_key,
        default=os.environ.get("THREADLINE_API_KEY") or None,
        help="the first API key, tl_<12 [a-z0-9]>_<43 url-safe chars> (default $THREADLINE_API_KEY, else a new one)",
    )
    parser.add_argument(
        "--allow-loopback-webhooks",
        action="store_true",
        default=os.environ.get(ALLOW_LOOPBACK_WEBHOOKS) == "1",
        help="let webhook endpoints be http://127.0.0.1:<port> or http://localhost receivers on this machine"
        f" (default ${ALLOW_LOOPBACK_WEBHOOKS}=1); never private or link-local addresses",
    )


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, got {port}")
    return port


def _api_key(value: str) -> str:
    from threadline.auth.api_keys import KEY_PATTERN

    if not KEY_PATTERN.match(value):
        raise argparse.ArgumentTypeError(
            "malformed API key (from --api-key or $THREADLINE_API_KEY): a key reads "
            "tl_<12 characters a-z0-9>_<43 characters A-Za-z0-9_->; omit it to have one generated"
        )
    return value


@dataclass
class LocalServer:
    """A running local server: the emulation, the HTTP server and where they listen."""

    api_url: str
    endpoint_url: str
    api_key: str
    httpd: ThreadingHTTPServer
    moto: Any
    state_file: Path
    workflow: ExitStack  # the Lambda bridge and the execution watcher

    def serve_forever(self) -> None:
        """Serve until ``shutdown`` is called (from another thread or a signal handler)."""
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop serving (safe to call from a signal handler: it does not wait here)."""
        threading.Thread(target=self.httpd.shutdown, daemon=True).start()

    def close(self) -> None:
        """Release the ports and forget the state file (if it is still ours)."""
        self.httpd.server_close()
        self.workflow.close()
        self.moto.stop()
        try:
            if json.loads(self.state_file.read_text()).get("api_url") == self.api_url:
                self.state_file.unlink()
        except (OSError, ValueError):
            pass


class _Server(ThreadingHTTPServer):
    # Python's default listen backlog (5) resets a burst of concurrent clients; API Gateway queues them.
    request_queue_size = 128


def start(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    api_key: str | None = None,
    allow_loopback_webhooks: bool = False,
) -> LocalServer:
    """Bind the HTTP server, start and provision the emulation, store the first key."""
    _quiet_logs()
    # Bound first, so a port in use fails before anything starts.
    try:
        gateway = Gateway()
        httpd = _Server((host, port), _handler_class(gateway, STAGE))
    except OSError as error:
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    httpd.daemon_threads = True
    moto_server = None
    workflow = ExitStack()
    try:
        moto_server, moto_port = _start_moto()
        endpoint_url = f"http://127.0.0.1:{moto_port}"
        _point_aws_at(endpoint_url, moto_port)
        from threadline_tools.lambda_bridge import patched_moto
        from threadline_tools.provision import provision

        workflow.enter_context(patched_moto())
        workflow.enter_context(_log_keys_per_thread())
        deployment = provision()
        os.environ.update(deployment.environment())
        _webhook_environment(allow_loopback_webhooks)
        api_key = _store_first_key(deployment.keys_table, api_key)
        _import_handlers()
        _run_workflows(deployment, workflow)
        _deliver_streams(deployment, workflow, gateway)
        _deliver_webhooks(deployment, workflow)
    except BaseException:
        httpd.server_close()
        workflow.close()
        if moto_server is not None:
            moto_server.stop()
        raise
    api_url = f"http://{_url_host(host)}:{httpd.server_address[1]}"
    state_file = local_file()
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "api_url": api_url,
        "endpoint_url": endpoint_url,
        "region": REGION,
        "keys_table": deployment.keys_table,
        "threads_table": deployment.threads_table,
    }
    state_file.write_text(json.dumps(state, indent=2) + "\n")
    return LocalServer(api_url, endpoint_url, api_key, httpd, moto_server, state_file, workflow)


def _run_workflows(deployment: Any, stack: ExitStack) -> None:
    """Run the state machine's Lambda tasks in-process, and hand ended executions to the
    reconciling function (moto emits no EventBridge status-change events)."""
    import boto3

    from threadline_tools.execution_events import ExecutionWatcher
    from threadline_tools.lambda_bridge import bridged

    stack.enter_context(bridged(deployment.functions))
    watcher = ExecutionWatcher(boto3.client("stepfunctions"), deployment.state_machine_arn)
    watcher.start()
    stack.callback(watcher.stop)


def _deliver_streams(deployment: Any, stack: ExitStack, gateway: Gateway) -> None:
    """Feed the threads table's stream to the indexer (moto has no event source mapping): every
    0.2 s, and before each read, so a list always sees the writes made before it; and to the
    event log's writer every 0.1 s."""
    from threadline_tools.streams import StreamPoller, StreamPump

    pump = StreamPump(deployment.threads_table)
    poller = StreamPoller(pump)
    poller.start()
    stack.callback(poller.stop)
    # The same stream → the event log's writer, on a mapping of its own (as in AWS).
    events = StreamPoller(StreamPump(deployment.threads_table, "RecordEventsFunction"), interval=0.1)
    events.start()
    stack.callback(events.stop)
    # Before a read's handler (a write waits for no stream on AWS); concurrent reads share one delivery.
    gateway.before_request = pump.catch_up
    gateway.before_request_methods = frozenset({"GET", "HEAD"})
    # Reads of nothing the indexer writes (the event log, a run's stream, webhooks) wait for none:
    # a stream's windows and a follower's polls would otherwise keep the indexer delivering.
    gateway.before_request_skips = frozenset(
        {
            "ListEventsFunction",
            "StreamRunFunction",
            "ListWebhookEndpointsFunction",
            "ListWebhookDeliveriesFunction",
        }
    )


def _webhook_environment(allow_loopback: bool) -> None:
    """The deliverer's local settings: loopback receivers if asked for, a compressed schedule."""
    if allow_loopback:
        os.environ[ALLOW_LOOPBACK_WEBHOOKS] = "1"
    else:
        os.environ.pop(ALLOW_LOOPBACK_WEBHOOKS, None)
    os.environ.setdefault(WEBHOOK_RETRY_SCALE, LOCAL_WEBHOOK_RETRY_SCALE)


def _deliver_webhooks(deployment: Any, stack: ExitStack) -> None:
    """Webhooks as in AWS: the event log's stream → the fan-out function, and the delivery queue →
    the deliverer (each every 0.1 s, as Lambda's pollers take what is there at once; moto holds
    delayed retries until they are due)."""
    from threadline_tools.queues import QueuePump
    from threadline_tools.streams import StreamPoller, StreamPump

    fan_out = StreamPoller(StreamPump(deployment.events_table, "FanOutWebhooksFunction"), interval=0.1)
    fan_out.start()
    stack.callback(fan_out.stop)
    deliver = StreamPoller(QueuePump(deployment.webhook_queue_url), interval=0.1)
    deliver.start()
    stack.callback(deliver.stop)


@contextmanager
def _log_keys_per_thread() -> Iterator[None]:
    """Powertools keeps a logger's appended keys (the request's correlation id, the function's
    name...) on its formatter, one per process and service: on Lambda an environment is a process
    of its own, here concurrent requests would log each other's keys (and race on one dict).
    While active, each thread has keys of its own, starting from those the formatter was built with."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    threads = threading.local()

    def get(formatter: Any) -> dict[str, Any]:
        mine: dict[int, dict[str, Any]] = vars(threads).setdefault("keys", {})
        if id(formatter) not in mine:
            mine[id(formatter)] = dict(formatter.__dict__.get("log_format") or {})
        return mine[id(formatter)]

    def put(formatter: Any, keys: dict[str, Any]) -> None:
        formatter.__dict__.setdefault("log_format", keys)  # the keys it was built with
        vars(threads).setdefault("keys", {})[id(formatter)] = keys

    with mock.patch.object(LambdaPowertoolsFormatter, "log_format", property(get, put), create=True):
        yield


def _point_aws_at(endpoint_url: str, moto_port: int) -> None:
    """Send every boto3 client of this process (the handlers' included) to the emulation."""
    os.environ.update(
        {
            "MOTO_PORT": str(moto_port),  # moto's ASL interpreter calls services at http://localhost:$MOTO_PORT
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)


def _import_handlers() -> None:
    # Import every function now, so "ready" means ready and a broken handler fails at start; and
    # read the code every environment of it will run (see gateway.Environments).
    from threadline_tools.gateway import ENVIRONMENTS
    from threadline_tools.template import load_handler, resources

    for function in resources("AWS::Serverless::Function"):
        load_handler(function)
        ENVIRONMENTS.prepare(function)


def _quiet_logs() -> None:
    # One line per request is printed by the HTTP handler; moto's own request log
    # and the ASL interpreter's tracebacks of caught (expected) task errors are noise.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


def _start_moto() -> tuple[Any, int]:
    from moto.moto_api._internal.models import moto_api_backend
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # port 0: the OS picks a free one, read back below
    # set_config replaces each top-level key as a whole, so both are given in full.
    moto_api_backend.set_config(MOTO_CONFIG)
    return server, server.get_host_and_port()[1]


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _store_first_key(keys_table: str, api_key: str | None = None) -> str:
    """Store ``api_key`` (or a new key) for org ``local``; returns the key."""
    from threadline import clients
    from threadline.auth.api_keys import KEY_PATTERN, generate_key, hash_key
    from threadline.models.api_keys import ApiKeyRecord
    from threadline.store.api_keys import ApiKeyStore
    from threadline.timeutil import now_iso

    if api_key is None:
        key_id, api_key = generate_key()
    else:
        matched = KEY_PATTERN.match(api_key)
        if matched is None:
            raise ValueError("malformed API key: it reads tl_<12 characters a-z0-9>_<43 characters A-Za-z0-9_->")
        key_id = matched.group(1)
    record = ApiKeyRecord(
        key_hash=hash_key(api_key),
        key_id=key_id,
        org_id=LOCAL_ORG,
        name=LOCAL_KEY_NAME,
        scopes=("read", "write"),
        created_at=now_iso(),
    )
    ApiKeyStore(clients.dynamodb(), keys_table).put(record)
    return api_key


# A method is an HTTP token (RFC 9110); anything else in the request line is a 400.
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")
_MAX_LINE = 8192  # a chunk-size or trailer line


class _Rejected(Exception):
    """A request body the gateway refuses before any function runs (a gateway response)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _handler_class(gateway: Gateway, stage: str) -> type[BaseHTTPRequestHandler]:
    # No lock: each request runs on a thread of its own, its functions in environments of their
    # own (threadline_tools.gateway.Environments), as Lambda runs concurrent invocations.
    stage_prefix = f"/{stage}"

    class Handler(BaseHTTPRequestHandler):
        server_version = SERVER_NAME
        protocol_version = "HTTP/1.1"
        concurrency = 0  # of this request's handler (Reply.concurrency), for the log line
        path = ""  # (until http.server has parsed the request line: an error may come first)

        def __getattr__(self, name: str) -> Any:
            # Every method reaches the gateway, as every method reaches API Gateway: one that no
            # route serves is the 405 function's (known path) or the gateway's 404 (unknown path).
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def _serve(self) -> None:
            if not _METHOD.fullmatch(self.command):
                self._gateway_reply("DEFAULT_4XX", close=True)
                return
            url = urlsplit(self.path)
            path = url.path
            if path == stage_prefix or path.startswith(stage_prefix + "/"):
                path = path[len(stage_prefix) :] or "/"
            try:
                raw = self._body()
            except _Rejected as rejected:  # the rest of the body is unread: this connection ends
                self._gateway_reply(rejected.kind, close=True)
                return
            body = raw.decode("utf-8", errors="replace") if raw else None
            headers = {name: value for name, value in self.headers.items() if name.lower() != "transfer-encoding"}
            query = parse_qs(url.query, keep_blank_values=True)
            try:
                reply = gateway.request(self.command, path, headers, query, body)
                status, reply_headers, text = reply.status, reply.headers, reply.body
                self.concurrency = reply.concurrency
            except Exception:  # as API Gateway does when a function crashes: a 5XX, details in the log
                traceback.print_exc()
                fallback = gateway_response("DEFAULT_5XX")
                status, reply_headers, text = fallback.status, fallback.headers, fallback.body
            self._reply(status, reply_headers, text)

        def _body(self) -> bytes:
            """The request body, whole: of Content-Length bytes, or chunked (as curl -T - and
            streaming clients send it)."""
            encoding = self.headers.get("Transfer-Encoding")
            if encoding is not None:
                # Both framings at once is how requests are smuggled past proxies: refused.
                if encoding.strip().lower() != "chunked" or self.headers.get("Content-Length") is not None:
                    raise _Rejected("DEFAULT_4XX")
                return self._chunked_body()
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                raise _Rejected("DEFAULT_4XX")
            if length > MAX_BODY_BYTES:
                raise _Rejected("REQUEST_TOO_LARGE")
            return self.rfile.read(length) if length else b""

        def _chunked_body(self) -> bytes:
            body = bytearray()
            while True:
                line = self.rfile.readline(_MAX_LINE)
                size_field = line.split(b";", 1)[0].strip()  # chunk extensions are ignored
                if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_field):
                    raise _Rejected("DEFAULT_4XX")
                size = int(size_field, 16)
                if size == 0:
                    break
                if len(body) + size > MAX_BODY_BYTES:
                    raise _Rejected("REQUEST_TOO_LARGE")
                chunk = self.rfile.read(size)
                if len(chunk) < size or self.rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n"):
                    raise _Rejected("DEFAULT_4XX")
                body += chunk
            for _ in range(100):  # trailer fields, ignored, up to the empty line
                line = self.rfile.readline(_MAX_LINE)
                if line in (b"\r\n", b"\n"):
                    return bytes(body)
                if not line.endswith(b"\n"):
                    break
            raise _Rejected("DEFAULT_4XX")

        def _gateway_reply(self, kind: str, status: int | None = None, close: bool = False) -> None:
            reply = gateway_response(kind)
            self._reply(status or reply.status, reply.headers, reply.body, close)

        def _reply(self, status: int, headers: dict[str, str], text: str, close: bool = False) -> None:
            payload = text.encode()
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection", "transfer-encoding", "server"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            if close:
                self.send_header("Connection", "close")  # (sets close_connection)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def handle_one_request(self) -> None:
            self.concurrency = 0  # (a kept-alive connection's handler serves its requests in turn)
            super().handle_one_request()

        def parse_request(self) -> bool:
            if not super().parse_request():
                return False
            if self.request_version == "HTTP/0.9":  # ("GET /path", no version): not HTTP an API serves
                self.send_error(400)
                return False
            return True

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # What http.server itself refuses (a malformed request line, a line or headers too
            # long, an unknown HTTP version): the gateway's JSON error, not Python's HTML page,
            # and always with a status line and headers (http.server omits them while the request
            # line's version is unknown, as HTTP/0.9 replies).
            self.log_error("code %d, message %s", code, message)
            self.request_version = "HTTP/1.1"
            self._gateway_reply("DEFAULT_4XX", status=code, close=True)  # (the request is at fault: even a 505)

        def version_string(self) -> str:
            return SERVER_NAME  # not http.server's "BaseHTTP/0.6 Python/3.x": no version to fingerprint

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            at_once = f" ({self.concurrency} at once)" if self.concurrency > 1 else ""
            self.log_message("%s %s %s%s", self.command or "-", self.path or "-", code, at_once)

    return Handler


def banner(server: LocalServer) -> str:
    """What the server prints once it is ready."""
    body = json.dumps({"type": "cip_orchestrator", "business_id": "biz_123"})
    business = json.dumps(SAMPLE_BUSINESS)
    return "\n".join(
        [
            "",
            f"  API URL      {server.api_url}   (also {server.api_url}/api, like a deployed stage)",
            f"  API key      {server.api_key}   (org {LOCAL_ORG}, scopes read,write)",
            f"  AWS (moto)   {server.endpoint_url}   region {REGION}, state in memory",
            f"  Keys         threadline keys create --local --org {LOCAL_ORG}   (list, revoke likewise)",
            f"  Webhooks     {_webhooks_line()}",
            "",
            "  Try it: store a business, then start a thread on it",
            f"    curl -s -X PUT {server.api_url}/v1/contexts/business/biz_123 \\",
            f'      -H "Authorization: Bearer {server.api_key}" \\',
            '      -H "Content-Type: application/json" \\',
            f"      -d '{business}'",
            f"    curl -s -X POST {server.api_url}/v1/threads \\",
            f'      -H "Authorization: Bearer {server.api_key}" \\',
            '      -H "Content-Type: application/json" \\',
            f"      -d '{body}'",
            f'    curl -s {server.api_url}/thread -H "Authorization: Bearer {server.api_key}"',
            "",
            READY_LINE + " (Ctrl-C to stop)",
        ]
    )


def _webhooks_line() -> str:
    scale = os.environ.get(WEBHOOK_RETRY_SCALE, LOCAL_WEBHOOK_RETRY_SCALE)
    receivers = (
        "http://127.0.0.1 and localhost receivers allowed"
        if os.environ.get(ALLOW_LOOPBACK_WEBHOOKS) == "1"
        else "public https receivers only (--allow-loopback-webhooks for local ones)"
    )
    return f"{receivers}; retries scaled x{scale}"


def run(host: str, port: int, api_key: str | None, allow_loopback_webhooks: bool = False) -> int:
    """Start, serve until SIGINT/SIGTERM, and clean up."""
    print("Starting Threadline local server (AWS emulation: moto)...", flush=True)
    try:
        server = start(host, port, api_key, allow_loopback_webhooks)
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

    def stop(signum: int, frame: Any) -> None:
        server.shutdown()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(banner(server), flush=True)
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
        print("Threadline local server stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m threadline_tools.local``."""
    parser = argparse.ArgumentParser(
        prog="python -m threadline_tools.local",
        description="Serve the Threadline API locally on an embedded AWS emulation (no Docker, no AWS account).",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args.host, args.port, args.api_key, args.allow_loopback_webhooks)


if __name__ == "__main__":
    sys.exit(main())
