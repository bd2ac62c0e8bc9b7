"""``threadline``: run the local server and manage API keys.

    threadline dev [--host H] [--port N] [--api-key K]
    threadline keys create --org ORG [--project P] [--scopes read,write] [--name NAME] TARGET
    threadline keys list [--org ORG] TARGET
    threadline keys revoke KEY_ID TARGET

TARGET is exactly one of
    --local                          the running local server (.threadline/local.json)
    --stack NAME [--region R]        a deployed stack (its KeysTableName output)
    --table T [--endpoint-url U]     a keys table named explicitly [--region R]

A key is printed once, at creation; only its SHA-256 is stored. Exit codes:
0 done, 1 the AWS call failed or the key does not exist, 2 bad usage.
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

KEY_ID_PATTERN = re.compile(r"^(?:tl_)?([a-z0-9]{12})$")
KEYS_TABLE_OUTPUT = "KeysTableName"


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
    commands = parser.add_subparsers(dest="command", required=True, metavar="{dev,keys}")

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

    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")

    create = actions.add_parser("create", parents=[target], help="create a key and print it (once)")
    create.add_argument("--org", type=_org, required=True, help="the org the key belongs to")
    create.add_argument("--project", type=_project, help="restrict the key to one project")
    create.add_argument("--scopes", type=_scopes, default=SCOPES, help="comma-separated: read, write (default both)")
    create.add_argument("--name", type=_name, help="a label for the key list (default: the key's org)")
    create.add_argument("--json", action="store_true", help="print the key and its record as JSON")

    listing = actions.add_parser("list", parents=[target], help="list keys (never the key or its hash)")
    listing.add_argument("--org", type=_org, help="only this org's keys")
    listing.add_argument("--json", action="store_true", help="print JSON")

    revoke = actions.add_parser("revoke", parents=[target], help="revoke a key")
    revoke.add_argument("key_id", type=_key_id, metavar="KEY_ID", help="the key's id (or its tl_<id> prefix)")
    return parser


@dataclass(frozen=True)
class Target:
    """Where the keys table is."""

    table: str
    client_args: dict[str, Any]
    label: str


def resolve_target(args: argparse.Namespace) -> Target:
    """The keys table the arguments name; ``UsageError`` when it cannot be found."""
    if args.local:
        if args.region or args.endpoint_url:
            raise UsageError("--region and --endpoint-url do not apply to --local (the local server sets both)")
        return _local_target()
    if args.endpoint_url and not args.table:
        raise UsageError("--endpoint-url applies only to --table")
    region_args = {"region_name": args.region} if args.region else {}
    if args.stack:
        return Target(_stack_keys_table(args.stack, region_args), region_args, f"stack {args.stack}")
    client_args = dict(region_args)
    if args.endpoint_url:
        client_args["endpoint_url"] = args.endpoint_url
    return Target(args.table, client_args, f"table {args.table}")


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


def _stack_keys_table(stack: str, client_args: dict[str, Any]) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = boto3.client("cloudformation", **client_args).describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        raise UsageError(f"cannot read stack {stack}: {error.response['Error'].get('Message', error)}") from None
    except BotoCoreError as error:
        raise UsageError(f"cannot read stack {stack}: {error}") from None
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])} if stacks else {}
    table = outputs.get(KEYS_TABLE_OUTPUT)
    if not table:
        raise UsageError(f"stack {stack} has no {KEYS_TABLE_OUTPUT} output; is it a Threadline stack?")
    return table


def _store(target: Target) -> ApiKeyStore:
    import boto3

    return ApiKeyStore(boto3.client("dynamodb", **target.client_args), target.table)


def keys_create(args: argparse.Namespace, target: Target) -> None:
    """Create a key; print it once."""
    key_id, key = generate_key()
    record = ApiKeyRecord(
        key_hash=hash_key(key),
        key_id=key_id,
        org_id=args.org,
        name=args.name or f"key of {args.org}",
        scopes=tuple(args.scopes),
        created_at=now_iso(),
        project_id=args.project,
    )
    _store(target).put(record)
    if args.json:
        print(json.dumps({"key": key, **_public(record)}, indent=2))
        return
    restricted = f", project {record.project_id}" if record.project_id else ""
    print(f"Created API key {record.key_id} on {target.label}")
    print(f"  org {record.org_id}{restricted}, scopes {','.join(record.scopes)}, name {record.name!r}")
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
    header = ("ID", "PREFIX", "ORG", "PROJECT", "SCOPES", "NAME", "CREATED_AT", "REVOKED_AT")
    rows = [
        (
            r.key_id,
            r.display_prefix,
            r.org_id,
            r.project_id or "-",
            ",".join(r.scopes),
            r.name,
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
    if not args.local:
        print("A deployed API may accept it until its authorizer cache expires (AuthorizerCacheSeconds, default 300).")


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
    }


KEY_ACTIONS = {"create": keys_create, "list": keys_list, "revoke": keys_revoke}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``threadline`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "dev":
        return local.run(args.host, args.port, args.api_key)

    from botocore.exceptions import BotoCoreError, ClientError

    try:
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
        hint = " (is the local server still running?)" if args.local else ""
        print(f"threadline: error: {error}{hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
