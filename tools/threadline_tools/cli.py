"""``threadline``: run the local server and manage API keys.

    threadline dev [--host H] [--port N] [--api-key K] [--allow-loopback-webhooks]
    threadline keys create --org ORG [--project P] [--scopes read,write] [--name NAME]
                           [--usage-plan ID | --shared-plan] TARGET
    threadline keys list [--org ORG] TARGET
    threadline keys revoke KEY_ID TARGET
    threadline keys plan KEY_ID [--usage-plan ID] TARGET

TARGET is exactly one of
    --local                          the running local server (.threadline/local.json)
    --stack NAME [--region R]        a deployed stack (its KeysTableName output)
    --table T [--endpoint-url U]     a keys table named explicitly [--region R]

A key is printed once, at creation; only its SHA-256 is stored. Exit codes:
0 done, 1 the AWS call failed or the key does not exist, 2 bad usage.

Usage plans (per-key throttling and quotas, docs/operations.md): against a stack, a new key gets
an API Gateway API key of its own on the stack's per-key plan (its KeyUsagePlanId output), or on
``--usage-plan ID``; ``--shared-plan`` leaves it on the stack's shared plan (the stage's
throttling only). ``keys plan`` gives an existing key a plan of its own, or moves it to another
(a key never goes back to the shared plan: a request the authorizer's cache still identifies by
its own API key would be refused; revoke it and create another). The local server has no usage plans.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from threadline.auth.api_keys import KEY_PATTERN, ORG_PATTERN, SCOPES, generate_key, hash_key
from threadline.models.api_keys import ApiKeyRecord
from threadline.models.domain import IDENTIFIER_PATTERN
from threadline.store.api_keys import ApiKeyStore
from threadline.timeutil import now_iso

from threadline_tools import local
from threadline_tools.usage_plans import UsagePlans

KEY_ID_PATTERN = re.compile(r"^(?:tl_)?([a-z0-9]{12})$")
KEYS_TABLE_OUTPUT = "KeysTableName"
USAGE_PLAN_OUTPUT = "KeyUsagePlanId"


class UsageError(Exception):
    """Bad arguments or an unusable target: exit code 2."""


class CommandError(Exception):
    """The command could not be carried out: exit code 1."""


# Argument types: argparse turns their errors into "argument --x: ..." and exit code 2.


def _org(value: str) -> str:
    if not ORG_PATTERN.match(value):
        raise argparse.ArgumentTypeError(
            f"invalid org id {value!r}: 1-64 characters A-Z a-z 0-9 _ . -, starting with a letter or digit"
        )
    return value


def _project(value: str) -> str:
    if not re.match(IDENTIFIER_PATTERN, value):
        raise argparse.ArgumentTypeError(
            f"invalid project id {value!r}: 1-128 characters A-Z a-z 0-9 _ . : -, starting with a letter or digit"
        )
    return value


def _scopes(value: str) -> tuple[str, ...]:
    given = [scope.strip() for scope in value.split(",") if scope.strip()]
    unknown = sorted(set(given) - set(SCOPES))
    if not given or unknown:
        shown = ", ".join(unknown) if unknown else "none"
        raise argparse.ArgumentTypeError(f"invalid scopes ({shown}); choose from: {', '.join(SCOPES)}")
    return tuple(scope for scope in SCOPES if scope in given)


def _key_id(value: str) -> str:
    matched = KEY_ID_PATTERN.match(value.strip())
    if matched is None:
        full = KEY_PATTERN.match(value.strip())
        if full is None:
            raise argparse.ArgumentTypeError(
                f"invalid key id {value!r}: 12 characters a-z 0-9 (as `threadline keys list` shows it)"
            )
        return full.group(1)
    return matched.group(1)


def _name(value: str) -> str:
    if not value.strip() or len(value) > 128:
        raise argparse.ArgumentTypeError("a key name is 1-128 characters")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = argparse.ArgumentParser(prog="threadline", description="Threadline developer and operator tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{dev,keys,publish}")

    dev = commands.add_parser(
        "dev",
        help="run the API locally (no Docker, no AWS account)",
        description="Serve the Threadline API locally on an embedded AWS emulation (moto): no Docker, no AWS account.",
    )
    local.add_arguments(dev)

    target = argparse.ArgumentParser(add_help=False)
    where = target.add_argument_group("target options", "Give exactly one of --local, --stack, --table.")
    choice = where.add_mutually_exclusive_group(required=True)
    choice.add_argument("--local", action="store_true", help="target the running local server (threadline dev)")
    choice.add_argument("--stack", metavar="NAME", help="target a deployed stack (reads its KeysTableName output)")
    choice.add_argument("--table", metavar="T", help="target a keys table, by name")
    where.add_argument("--region", help="AWS region of --stack or --table (default: your AWS configuration)")
    where.add_argument("--endpoint-url", metavar="U", help="DynamoDB endpoint of --table (e.g. an emulator)")

    keys = commands.add_parser("keys", help="create, list and revoke API keys; put them on usage plans")
    actions = keys.add_subparsers(dest="action", required=True, metavar="{create,list,revoke,plan}")

    create = actions.add_parser("create", parents=[target], help="create a key and print it (once)")
    create.add_argument("--org", type=_org, required=True, help="the org the key belongs to")
    create.add_argument("--project", type=_project, help="restrict the key to one project")
    create.add_argument("--scopes", type=_scopes, default=SCOPES, help="comma-separated: read, write (default both)")
    create.add_argument("--name", type=_name, help="a label for the key list (default: the key's org)")
    create.add_argument("--json", action="store_true", help="print the key and its record as JSON")
    _plan_arguments(create)

    listing = actions.add_parser("list", parents=[target], help="list keys (never the key or its hash)")
    listing.add_argument("--org", type=_org, help="only this org's keys")
    listing.add_argument("--json", action="store_true", help="print JSON")

    revoke = actions.add_parser("revoke", parents=[target], help="revoke a key")
    revoke.add_argument("key_id", type=_key_id, metavar="KEY_ID", help="the key's id (or its tl_<id> prefix)")

    plan = actions.add_parser("plan", parents=[target], help="move a key to a usage plan (throttling, quota)")
    plan.add_argument("key_id", type=_key_id, metavar="KEY_ID", help="the key's id (or its tl_<id> prefix)")
    plan.add_argument(
        "--usage-plan", metavar="ID", help="an API Gateway usage plan of the API (default: the stack's KeyUsagePlanId)"
    )
    plan.set_defaults(shared_plan=False)

    release = commands.add_parser(
        "publish",
        help="publish every function of a stack and move its alias `live` (after a parameter-only deploy)",
        description="Publish a new version of every function of a deployed stack and point its alias `live` at it: "
        "a deploy that changes only parameters (EnableSnapStart, EnableTracing, RetentionDays, EventRetentionDays, "
        "WorkflowType) does not (docs/deploy.md, 'Versions and parameters').",
    )
    release.add_argument("--stack", metavar="NAME", required=True, help="the deployed stack")
    release.add_argument("--region", help="its AWS region (default: your AWS configuration)")
    return parser


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    plans = parser.add_mutually_exclusive_group()
    plans.add_argument(
        "--usage-plan", metavar="ID", help="an API Gateway usage plan of the API (default: the stack's KeyUsagePlanId)"
    )
    plans.add_argument(
        "--shared-plan", action="store_true", help="no plan of its own: the stack's shared plan (stage throttling only)"
    )


@dataclass(frozen=True)
class Target:
    """Where the keys table is."""

    table: str
    client_args: dict[str, Any]
    label: str
    # Where usage plans are: API Gateway's region arguments (None: the local server has none),
    # and the stack's per-key plan, if any.
    apigateway_args: dict[str, Any] | None = None
    default_plan: str | None = None


def resolve_target(args: argparse.Namespace) -> Target:
    """The keys table the arguments name; ``UsageError`` when it cannot be found."""
    if args.local:
        if getattr(args, "usage_plan", None) or args.action == "plan":
            raise UsageError("the local server has no usage plans (API Gateway throttles deployed stacks only)")
        if args.region or args.endpoint_url:
            raise UsageError("--region and --endpoint-url do not apply to --local (the local server sets both)")
        return _local_target()
    if args.endpoint_url and not args.table:
        raise UsageError("--endpoint-url applies only to --table")
    region_args = {"region_name": args.region} if args.region else {}
    if args.stack:
        outputs = _stack_outputs(args.stack, region_args)
        return Target(
            outputs[KEYS_TABLE_OUTPUT],
            region_args,
            f"stack {args.stack}",
            apigateway_args=region_args,
            default_plan=outputs.get(USAGE_PLAN_OUTPUT),
        )
    client_args = dict(region_args)
    if args.endpoint_url:
        client_args["endpoint_url"] = args.endpoint_url
    return Target(args.table, client_args, f"table {args.table}", apigateway_args=region_args)


def _local_target() -> Target:
    path = local.local_file()
    try:
        state = json.loads(path.read_text())
        table, endpoint, region = state["keys_table"], state["endpoint_url"], state["region"]
    except FileNotFoundError:
        raise UsageError(f"no local server is running ({path} not found); start one with: threadline dev") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    # The emulation accepts any credentials; fixed ones work where none are configured.
    client_args = {
        "endpoint_url": endpoint,
        "region_name": region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return Target(str(table), client_args, f"the local server ({state.get('api_url', endpoint)})")


def _stack_outputs(stack: str, client_args: dict[str, Any]) -> dict[str, str]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = boto3.client("cloudformation", **client_args).describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        raise UsageError(f"cannot read stack {stack}: {error.response['Error'].get('Message', error)}") from None
    except BotoCoreError as error:
        raise UsageError(f"cannot read stack {stack}: {error}") from None
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])} if stacks else {}
    if not outputs.get(KEYS_TABLE_OUTPUT):
        raise UsageError(f"stack {stack} has no {KEYS_TABLE_OUTPUT} output; is it a Threadline stack?")
    return outputs


def _store(target: Target) -> ApiKeyStore:
    import boto3

    return ApiKeyStore(boto3.client("dynamodb", **target.client_args), target.table)


def _usage_plans(target: Target) -> UsagePlans:
    import boto3

    return UsagePlans(boto3.client("apigateway", **(target.apigateway_args or {})))


def _plan(args: argparse.Namespace, target: Target, required: bool) -> str | None:
    """The usage plan the arguments name (None: the shared one); ``UsageError`` where there is none."""
    if (args.usage_plan or required) and target.apigateway_args is None:
        raise UsageError("the local server has no usage plans (API Gateway throttles deployed stacks only)")
    if args.shared_plan:
        return None
    plan: str | None = args.usage_plan or target.default_plan
    if plan is None and required:
        raise UsageError(f"give --usage-plan ID ({target.label} names no {USAGE_PLAN_OUTPUT})")
    return plan


def keys_create(args: argparse.Namespace, target: Target) -> None:
    """Create a key, with an API Gateway API key on its usage plan if it has one; print it once."""
    key_id, key = generate_key()
    plan = _plan(args, target, required=False)
    usage = _usage_plans(target).issue(key_id, args.org, plan) if plan else None
    record = ApiKeyRecord(
        key_hash=hash_key(key),
        key_id=key_id,
        org_id=args.org,
        name=args.name or f"key of {args.org}",
        scopes=tuple(args.scopes),
        created_at=now_iso(),
        project_id=args.project,
        usage_key_id=usage.key_id if usage else None,
        usage_key=usage.value if usage else None,
        usage_plan_id=usage.plan_id if usage else None,
    )
    try:
        _store(target).put(record)
    except Exception:
        if usage is not None:  # leave no API Gateway key without its Threadline key
            _usage_plans(target).delete(usage.key_id, usage.plan_id)
        raise
    if args.json:
        print(json.dumps({"key": key, **_public(record)}, indent=2))
        return
    restricted = f", project {record.project_id}" if record.project_id else ""
    print(f"Created API key {record.key_id} on {target.label}")
    print(f"  org {record.org_id}{restricted}, scopes {','.join(record.scopes)}, name {record.name!r}")
    print(f"  usage plan {_plan_label(record)}")
    print("The key is shown only this once; only its hash is stored:")
    print()
    print(f"  {key}")
    print()


def keys_list(args: argparse.Namespace, target: Target) -> None:
    """Print the keys as a table (never a key or its hash)."""
    records = _store(target).list_keys(args.org)
    if args.json:
        print(json.dumps([_public(r) for r in records], indent=2))
        return
    if not records:
        print(f"No API keys on {target.label}" + (f" for org {args.org}" if args.org else ""))
        return
    header = ("ID", "PREFIX", "ORG", "PROJECT", "SCOPES", "NAME", "USAGE_PLAN", "CREATED_AT", "REVOKED_AT")
    rows = [
        (
            r.key_id,
            r.display_prefix,
            r.org_id,
            r.project_id or "-",
            ",".join(r.scopes),
            r.name,
            _plan_label(r),
            r.created_at,
            r.revoked_at or "-",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def keys_revoke(args: argparse.Namespace, target: Target) -> None:
    """Revoke a key by its id."""
    store = _store(target)
    record = store.find(args.key_id)
    if record is None:
        raise CommandError(f"no API key with id {args.key_id} on {target.label}")
    if record.revoked_at:
        print(f"API key {record.key_id} was already revoked at {record.revoked_at}")
        return
    store.revoke(record.key_hash, now_iso())
    print(f"Revoked API key {record.key_id} (org {record.org_id}, name {record.name!r}).")
    if record.usage_key_id and target.apigateway_args is not None:
        # Its API Gateway key goes too: a request the authorizer's cache still lets through is
        # then refused (401) by API Gateway: its usage identifier is gone.
        _usage_plans(target).delete(record.usage_key_id, record.usage_plan_id)
        print(f"Deleted its API Gateway API key {record.usage_key_id} (usage plan {record.usage_plan_id}).")
    elif not args.local:
        print("A deployed API may accept it until its authorizer cache expires (AuthorizerCacheSeconds, default 300).")


def keys_plan(args: argparse.Namespace, target: Target) -> None:
    """Put a key on a usage plan: give it an API Gateway API key of its own, or move that key."""
    plan = _plan(args, target, required=True)
    assert plan is not None  # (``keys plan`` has no --shared-plan)
    store = _store(target)
    record = store.find(args.key_id)
    if record is None:
        raise CommandError(f"no API key with id {args.key_id} on {target.label}")
    if record.revoked_at:
        raise CommandError(f"API key {record.key_id} is revoked")
    plans = _usage_plans(target)
    if record.usage_key_id and record.usage_key:
        if record.usage_plan_id != plan:
            plans.move(record.usage_key_id, record.usage_plan_id, plan)
            store.set_usage(record.key_hash, record.usage_key_id, record.usage_key, plan)
    else:
        usage = plans.issue(record.key_id, record.org_id, plan)
        try:
            store.set_usage(record.key_hash, usage.key_id, usage.value, usage.plan_id)
        except Exception:
            plans.delete(usage.key_id, usage.plan_id)
            raise
        print("A deployed API applies it once the key's authorizer cache expires (AuthorizerCacheSeconds).")
    print(f"API key {record.key_id} is on usage plan {plan}.")


def _plan_label(record: ApiKeyRecord) -> str:
    return record.usage_plan_id or "shared"


def _public(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": record.key_id,
        "prefix": record.display_prefix,
        "org_id": record.org_id,
        "project_id": record.project_id,
        "scopes": list(record.scopes),
        "name": record.name,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
        "usage_plan_id": record.usage_plan_id,
    }


def publish_functions(args: argparse.Namespace) -> None:
    import boto3

    from threadline_tools.publish import publish_stack

    region_args = {"region_name": args.region} if args.region else {}
    published = publish_stack(
        boto3.client("cloudformation", **region_args), boto3.client("lambda", **region_args), args.stack
    )
    for done in published:
        moved = f"{done.before} -> {done.after}" if done.after != done.before else f"{done.before} (unchanged)"
        print(f"{done.function:64}  live: {moved}")


KEY_ACTIONS = {"create": keys_create, "list": keys_list, "revoke": keys_revoke, "plan": keys_plan}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``threadline`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "dev":
        return local.run(args.host, args.port, args.api_key, args.allow_loopback_webhooks)

    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if args.command == "publish":
            publish_functions(args)
            return 0
        target = resolve_target(args)
        KEY_ACTIONS[args.action](args, target)
    except UsageError as error:
        parser.exit(2, f"threadline: error: {error}\n")
    except CommandError as error:
        print(f"threadline: error: {error}", file=sys.stderr)
        return 1
    except ClientError as error:
        details = error.response.get("Error", {})
        print(f"threadline: error: {details.get('Code')}: {details.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as error:
        hint = " (is the local server still running?)" if getattr(args, "local", False) else ""
        print(f"threadline: error: {error}{hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
