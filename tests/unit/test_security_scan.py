"""The security scan's skips (`make security-check`, docs/operations.md "Security scan") say why,
and the template keeps to the reasons the app-wide ones give (.checkov.yaml)."""

from __future__ import annotations

import json
import re

from threadline_tools.template import ROOT, resources, template

# Event sources that invoke a function asynchronously: Lambda's own retries, then a DLQ or a destination.
ASYNC_EVENTS = {"EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2", "S3", "SNS", "IoTRule"}
ASYNC_EVENTS |= {"CloudWatchLogs"}
STREAM_EVENTS = {"DynamoDB", "Kinesis"}


def test_every_skip_in_the_template_names_its_check_and_says_why() -> None:
    skips = [
        (name, skip)
        for name, resource in template()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), name
        assert len(skip.get("comment", "")) >= 80, f"{name} skips {skip['id']} without saying why"


def test_every_app_wide_skip_says_why_in_the_comment_above_it() -> None:
    lines = (ROOT / ".checkov.yaml").read_text().splitlines()
    start = lines.index("skip-check:")
    skipped = [(i, line.strip()[2:]) for i, line in enumerate(lines) if i > start and line.strip().startswith("- CKV_")]
    assert skipped
    for i, check in skipped:
        assert lines[i - 1].strip().startswith("#"), f"{check} is skipped without a reason above it"


def test_no_function_invoked_asynchronously_lacks_an_on_failure_destination() -> None:
    # CKV_AWS_116 (no DLQ per function) is skipped for every function on these grounds
    queues = resources("AWS::SQS::Queue")
    for name, function in resources("AWS::Serverless::Function").items():
        props = function["Properties"]
        for event in props.get("Events", {}).values():
            kind = event["Type"]
            assert kind in ASYNC_EVENTS | STREAM_EVENTS | {"Api", "SQS"}, f"{name}: where do {kind} failures go?"
            if kind in ASYNC_EVENTS:
                assert props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"], name
            elif kind in STREAM_EVENTS:
                assert event["Properties"]["DestinationConfig"]["OnFailure"], name
            elif kind == "SQS":
                (queue,) = (q for q in queues if json.dumps(event["Properties"]["Queue"]).count(f'"{q}"'))
                assert queues[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"], name


def test_no_function_environment_holds_a_secret_but_the_cursor_key() -> None:
    # CKV_AWS_173 (no CMK for environment variables) is skipped for every function on these grounds
    environments = [("Globals", template()["Globals"]["Function"]["Environment"]["Variables"])]
    environments += [
        (name, function["Properties"].get("Environment", {}).get("Variables", {}))
        for name, function in resources("AWS::Serverless::Function").items()
    ]
    for owner, variables in environments:
        for variable, value in variables.items():
            secret_like = "{{resolve:" in json.dumps(value) or re.search(r"SECRET|PASSWORD|TOKEN|CREDENTIAL", variable)
            assert not secret_like or variable == "CURSOR_SECRET", f"{owner}: {variable}"
