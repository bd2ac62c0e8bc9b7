"""X-Ray traces (issue 11; docs/operations.md, "Traces and metrics").

Each case runs in a child process set up as a Lambda environment is (``LAMBDA_TASK_ROOT``, the
invocation's ``_X_AMZN_TRACE_ID``), with the X-Ray SDK sending to a UDP socket of the test as
it sends to the X-Ray daemon on Lambda: the segments it sends are what X-Ray would receive."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from threadline_tools.template import ROOT

REQUEST_ID = "c0ffee00-1111-4222-8333-444455556666"
USER_DATA_MARK = "C-1042"  # in events/create_thread.json's user_data

_CHILD = r"""
import json, os, socket, sys
daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
daemon.bind(("127.0.0.1", 0))
daemon.settimeout(0.5)
os.environ.update(json.loads(sys.argv[1]))
os.environ["AWS_XRAY_DAEMON_ADDRESS"] = "127.0.0.1:%d" % daemon.getsockname()[1]

from moto import mock_aws
from threadline import wiring
from threadline_tools.gateway import LambdaContext
from threadline_tools.provision import provision
from threadline_tools.template import load_module
from tests.conftest import route_event

with mock_aws():
    created = provision()
    os.environ.update(created.environment())
    wiring.reset()
    event = route_event("create_thread.json", org_id="acme")
    event["requestContext"]["requestId"] = sys.argv[2]
    put = route_event("put_context.json", org_id="acme")
    replies = [load_module("PutContextFunction").lambda_handler(put, LambdaContext("PutContextFunction"))]
    replies.append(load_module("CreateThreadFunction").lambda_handler(event, LambdaContext("CreateThreadFunction")))
segments = []
while True:
    try:
        datagram = daemon.recv(65536).decode()
    except socket.timeout:
        break
    header, _, body = datagram.partition("\n")
    segments.append(json.loads(body))
print(json.dumps({
    "statuses": [reply["statusCode"] for reply in replies],
    "segments": segments,
    "xray_imported": "aws_xray_sdk" in sys.modules,
}))
"""

LAMBDA = {
    "LAMBDA_TASK_ROOT": str(ROOT),
    "AWS_LAMBDA_FUNCTION_NAME": "CreateThreadFunction",
    "_X_AMZN_TRACE_ID": "Root=1-6740f2a1-3c1d2b4a5e6f70819a0b1c01;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _run(environment: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(environment), REQUEST_ID],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _subsegments(segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pending = list(segments)
    while pending:
        segment = pending.pop()
        found.append(segment)
        pending += segment.get("subsegments", [])
    return found


def test_a_traced_request_is_its_handler_and_its_aws_calls_annotated_with_its_correlation_id() -> None:
    traced = _run({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"})

    assert traced["statuses"] == [201, 201]
    segments = _subsegments(traced["segments"])
    handlers = [s for s in segments if s["name"] == "## lambda_handler"]
    assert len(handlers) == 2
    by_request = {handler["annotations"]["correlation_id"]: handler for handler in handlers}
    assert REQUEST_ID in by_request  # (and the put's own request id)
    assert by_request[REQUEST_ID]["trace_id"] == "1-6740f2a1-3c1d2b4a5e6f70819a0b1c01"
    # the create's AWS calls are subsegments of the same trace
    operations = {(s["name"], s.get("aws", {}).get("operation")) for s in segments if s.get("namespace") == "aws"}
    assert {("dynamodb", "TransactWriteItems"), ("kms", "GenerateDataKey"), ("states", "StartExecution")} <= operations
    # and nothing a tenant keeps secret is in a segment: no response, no user_data, no key
    text = json.dumps(traced["segments"])
    assert USER_DATA_MARK not in text
    assert "Bearer" not in text and "tl_" not in text
    assert not any("response" in json.dumps(s.get("metadata", {})) for s in handlers)


def test_without_tracing_nothing_is_sent_and_the_x_ray_sdk_is_never_imported() -> None:
    off_on_lambda = {**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}
    # not on Lambda (the local server, the tests): off, whatever the setting says
    off_the_lambda = {k: v for k, v in LAMBDA.items() if k != "LAMBDA_TASK_ROOT"} | {
        "POWERTOOLS_TRACE_DISABLED": "false"
    }
    for environment in (off_on_lambda, off_the_lambda):
        untraced = _run(environment)
        assert untraced["statuses"] == [201, 201]
        assert untraced["segments"] == []
        assert untraced["xray_imported"] is False
