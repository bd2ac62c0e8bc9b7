"""Least privilege, checked against the code as it runs: the AWS calls each function of
template.yaml makes (recorded by a botocore hook while the emulation invokes it, attributed by
``gateway.INVOKED``), the IAM actions and resources each call needs, and the function's policy
statements in the template that must allow them.

What a call needs, by AWS's rules ("Actions, resources, and condition keys"): one action per
operation (``states`` for Step Functions), except DynamoDB's transactions, which need the
action of each item (``Put`` → ``dynamodb:PutItem``, ``Update`` → ``UpdateItem``, ``Delete`` →
``DeleteItem``, ``ConditionCheck`` → ``ConditionCheckItem``; ``TransactGetItems`` → ``GetItem``)
on each item's table. ``BatchGetItem`` and ``BatchWriteItem`` are actions of their own. The
resource is the table (``table/<name>/index/<index>`` for a Query or Scan of an index), the
queue, the key, the state machine (``StartExecution``; a task token's calls) or the execution.
Condition keys the template uses are evaluated too: ``dynamodb:LeadingKeys`` (the partition key
values the call touches) and ``kms:EncryptionContext:<key>``.
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
import re
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers

from threadline_tools.gateway import ACCOUNT, INVOKED, REGION
from threadline_tools.provision import THREADS_TABLE, Deployment
from threadline_tools.template import resources, template

STACK = "threadline"  # what provision() names resources after (its prefix), as a stack's name
_SERVICES = {"stepfunctions": "states"}  # botocore's service name → IAM's prefix, where they differ
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_TABLES = {  # template logical id → Deployment attribute naming its table
    THREADS_TABLE: "threads_table",
    "KeysTable": "keys_table",
    "IdempotencyTable": "idempotency_table",
    "EventsTable": "events_table",
    "WebhooksTable": "webhooks_table",
}
_QUEUES = {"WebhookDeliveryQueue": "webhook_queue_url", "WebhookDeadLetterQueue": "webhook_dead_letter_queue_url"}


@dataclass(frozen=True)
class Call:
    """One AWS API call a function made."""

    function: str  # template logical id
    service: str  # botocore's name (dynamodb, kms, sqs, stepfunctions)
    operation: str  # e.g. TransactWriteItems
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Access:
    """One IAM action on one resource that a call needs, with the values of the condition keys the
    request carries."""

    action: str  # e.g. dynamodb:PutItem
    resource: str  # an ARN
    conditions: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def values(self, key: str) -> tuple[str, ...] | None:
        """The request's values of condition key ``key`` (None: the request has none)."""
        return next((values for name, values in self.conditions if name == key), None)


@dataclass(frozen=True)
class Statement:
    """A statement of a function's policy, its resources resolved to the emulation's ARNs."""

    index: int
    effect: str
    actions: tuple[str, ...]
    resources: tuple[tuple[str, str], ...]  # (label as the template writes it, ARN pattern)
    condition: Mapping[str, Mapping[str, Any]]

    def allows_action(self, action: str, pattern: str) -> bool:
        return fnmatch.fnmatchcase(action.lower(), pattern.lower())

    def matches(self, access: Access) -> bool:
        """Whether this statement applies to ``access`` (action, resource and condition)."""
        return (
            any(self.allows_action(access.action, action) for action in self.actions)
            and any(fnmatch.fnmatchcase(access.resource, arn) for _, arn in self.resources)
            and _condition_holds(self.condition, access)
        )


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], access: Access) -> bool:
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            patterns = [wanted] if isinstance(wanted, str) else list(wanted)
            values = access.values(key)
            if operator == "StringEquals":
                if values is None or not any(v in patterns for v in values):
                    return False
            elif operator == "ForAllValues:StringLike":
                # Every value the request carries matches a pattern (none carried: it holds, as on AWS).
                if not all(any(fnmatch.fnmatchcase(v, p) for p in patterns) for v in values or ()):
                    return False
            else:
                raise ValueError(f"condition operator not audited: {operator} (add it to permissions.py)")
    return True


# ----- the recorder --------------------------------------------------------------------------------


class Recorder:
    """Records every AWS API call made while a function of the template is invoked (on any client
    built while :meth:`installed` is active: the layer's ``threadline.clients``, or any other)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.invocations: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def installed(self) -> Iterator[Recorder]:
        """While active, every botocore session created reports its clients' calls here (so build
        the clients afresh inside: ``threadline.clients.reset()``)."""
        handler = ("provide-client-params", self._record)
        botocore.handlers.BUILTIN_HANDLERS.append(handler)
        submit = ThreadPoolExecutor.submit

        def in_context(pool: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            # A function's own worker threads (the webhook deliverer sends in parallel) make calls
            # with its role too: they run in the submitter's context, so INVOKED follows them.
            return submit(pool, contextvars.copy_context().run, fn, *args, **kwargs)

        ThreadPoolExecutor.submit = in_context  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]
            botocore.handlers.BUILTIN_HANDLERS.remove(handler)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        function = INVOKED.get()
        if function is None:  # the test's own calls, the emulation's, the state machine's integrations
            return
        call = Call(function, model.service_model.service_name, model.name, dict(params))
        with self._lock:
            self.calls.append(call)

    def count(self, function: str) -> None:
        """Note one invocation of ``function`` (that it ran, whatever it called)."""
        with self._lock:
            self.invocations[function] = self.invocations.get(function, 0) + 1


# ----- calls → accesses ------------------------------------------------------------------------------


@dataclass
class Emulation:
    """The deployment's names as ARNs, and the template's resources resolved to them."""

    deployment: Deployment
    _tables: dict[str, str] = field(default_factory=dict)  # table name → logical id

    def __post_init__(self) -> None:
        self._tables = {getattr(self.deployment, attribute): logical for logical, attribute in _TABLES.items()}

    # ARNs of what the emulation created
    def table_arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"

    def queue_arn(self, url: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rstrip('/').rpartition('/')[2]}"

    def key_arn(self, key_id: str) -> str:
        return key_id if key_id.startswith("arn:") else f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"

    def arn_of(self, logical_id: str) -> str:
        """The ARN (``Fn::GetAtt .Arn``, or a state machine's ``Ref``) of a template resource; one
        the emulation does not create gets the ARN it would have, named after the stack."""
        if logical_id in _TABLES:
            return self.table_arn(getattr(self.deployment, _TABLES[logical_id]))
        if logical_id in _QUEUES:
            return self.queue_arn(getattr(self.deployment, _QUEUES[logical_id]))
        kind = template()["Resources"][logical_id]["Type"]
        if kind == "AWS::KMS::Key":
            return self.key_arn(self.deployment.kms_key_id)
        if kind == "AWS::Serverless::StateMachine":
            return self.deployment.state_machine_arn
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-{logical_id}"
        if kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{logical_id}"
        raise ValueError(f"no ARN for {logical_id} ({kind}): add it to permissions.py")

    def resolve(self, value: Any) -> tuple[str, str]:
        """A statement's resource: (the template's own spelling, the ARN or ARN pattern)."""
        if isinstance(value, str):
            return value, value
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", value
            return f"{logical_id}.Arn", self.arn_of(logical_id)
        if "Ref" in value:
            return value["Ref"], self.arn_of(value["Ref"])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            return text, re.sub(r"\$\{([^}]+)\}", lambda m: self._variable(m.group(1)), text)
        raise ValueError(f"resource not audited: {value}")

    def _variable(self, name: str) -> str:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": STACK}
        if name in pseudo:
            return pseudo[name]
        logical_id, _, attribute = name.partition(".")
        if attribute == "Arn":
            return self.arn_of(logical_id)
        if attribute == "Name":  # a state machine's name
            return self.arn_of(logical_id).rpartition(":")[2]
        raise ValueError(f"substitution not audited: ${{{name}}}")

    def statements(self, function: str) -> list[Statement]:
        """The function's policy statements (its ``Policies``' ``Statement`` lists)."""
        kind = "AWS::Serverless::StateMachine" if function == "AgentWorkflow" else "AWS::Serverless::Function"
        found: list[Statement] = []
        for policy in resources(kind)[function]["Properties"].get("Policies") or []:
            if isinstance(policy, dict) and set(policy) == {"Fn::If"}:  # a policy of a condition
                condition, if_true, if_false = policy["Fn::If"]
                policy = if_true if _holds_by_default(condition) else if_false
                if policy == {"Ref": "AWS::NoValue"}:
                    continue
            if isinstance(policy, dict) and set(policy) == {"LambdaInvokePolicy"}:  # SAM's policy template
                # SAM's grants ``function:<name>*``: the function, its versions and its aliases
                spelling, arn = self.resolve(policy["LambdaInvokePolicy"]["FunctionName"])
                target = (spelling, arn + "*")
                found.append(Statement(len(found), "Allow", ("lambda:InvokeFunction",), (target,), {}))
                continue
            if not (isinstance(policy, dict) and "Statement" in policy):
                raise ValueError(f"{function}: policy not audited (a policy template or a managed policy): {policy}")
            for raw in policy["Statement"]:
                actions = raw["Action"]
                targets = raw["Resource"] if isinstance(raw["Resource"], list) else [raw["Resource"]]
                found.append(
                    Statement(
                        index=len(found),
                        effect=raw["Effect"],
                        actions=tuple([actions] if isinstance(actions, str) else actions),
                        resources=tuple(self.resolve(t) for t in targets),
                        condition=raw.get("Condition", {}),
                    )
                )
        return found

    # What a call needs
    def accesses(self, call: Call) -> list[Access]:
        """The IAM actions on resources that ``call`` needs, with its condition keys' values."""
        prefix = _SERVICES.get(call.service, call.service)
        params = call.params
        if call.service == "dynamodb":
            return self._dynamodb(call.operation, params)
        if call.service == "kms":
            key = params.get("KeyId") or self.deployment.kms_key_id  # Decrypt: the ciphertext's (one key here)
            context = params.get("EncryptionContext") or {}
            conditions = tuple((f"kms:EncryptionContext:{k}", (str(v),)) for k, v in sorted(context.items()))
            return [Access(f"kms:{call.operation}", self.key_arn(str(key)), conditions)]
        if call.service == "sqs":
            action = "SendMessage" if call.operation == "SendMessageBatch" else call.operation
            return [Access(f"sqs:{action}", self.queue_arn(str(params["QueueUrl"])))]
        if call.service == "lambda" and call.operation == "Invoke":
            return [Access("lambda:InvokeFunction", str(params["FunctionName"]))]
        if call.service == "stepfunctions":
            target = params.get("executionArn") or params.get("stateMachineArn")
            if call.operation.startswith("SendTask"):  # the task token's state machine (there is one)
                target = self.deployment.state_machine_arn
            return [Access(f"states:{call.operation}", str(target or "*"))]
        return [Access(f"{prefix}:{call.operation}", "*")]

    def _dynamodb(self, operation: str, params: Mapping[str, Any]) -> list[Access]:
        if operation in ("TransactWriteItems", "TransactGetItems"):
            found = []
            for entry in params["TransactItems"]:
                ((kind, item),) = entry.items()
                keys = [item.get("Key") or item.get("Item") or {}]
                found.append(self._table_access(_TRANSACT_ACTIONS[kind], item["TableName"], None, keys))
            return found
        if operation in ("BatchGetItem", "BatchWriteItem"):
            found = []
            for table, wanted in params["RequestItems"].items():
                if operation == "BatchGetItem":
                    keys = list(wanted["Keys"])
                else:
                    keys = [
                        (request.get("PutRequest") or {}).get("Item") or (request.get("DeleteRequest") or {})["Key"]
                        for request in wanted
                    ]
                found.append(self._table_access(operation, table, None, keys))
            return found
        table, index = str(params["TableName"]), params.get("IndexName")
        if operation == "Query":
            return [self._table_access(operation, table, index, [], self._query_leading_key(params, table, index))]
        if operation == "Scan":
            return [self._table_access(operation, table, index, [])]
        keys = [params.get("Key") or params.get("Item") or {}]
        return [self._table_access(operation, table, None, keys)]

    def _table_access(
        self, action: str, table: str, index: str | None, items: list[Mapping[str, Any]], leading: str | None = None
    ) -> Access:
        resource = self.table_arn(table) + (f"/index/{index}" if index else "")
        hash_key = self._hash_key(table, None)
        values = {_scalar(item[hash_key]) for item in items if hash_key in item}
        if leading is not None:
            values.add(leading)
        conditions = (("dynamodb:LeadingKeys", tuple(sorted(values))),) if values else ()
        return Access(f"dynamodb:{action}", resource, conditions)

    def _hash_key(self, table: str, index: str | None) -> str:
        logical_id = self._tables.get(table)
        if logical_id is None:
            raise ValueError(f"a call on table {table}, which the deployment does not have")
        props = resources("AWS::DynamoDB::Table")[logical_id]["Properties"]
        schema = props["KeySchema"]
        if index is not None:
            schema = next(i["KeySchema"] for i in props["GlobalSecondaryIndexes"] if i["IndexName"] == index)
        return str(next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH"))

    def _query_leading_key(self, params: Mapping[str, Any], table: str, index: str | None) -> str | None:
        """The partition key value a Query names (its KeyConditionExpression's equality)."""
        hash_key = self._hash_key(table, index)
        names = params.get("ExpressionAttributeNames") or {}
        values = params.get("ExpressionAttributeValues") or {}
        for name, placeholder in re.findall(r"(#?\w+)\s*=\s*(:\w+)", str(params.get("KeyConditionExpression", ""))):
            if names.get(name, name) == hash_key and placeholder in values:
                return _scalar(values[placeholder])
        return None


def _scalar(value: Mapping[str, Any]) -> str:
    ((_, raw),) = value.items()
    return str(raw)


# ----- the audit -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A call the policy does not allow, or a part of the policy no call used."""

    function: str
    kind: str  # "not allowed", "unused action", "unused resource"
    what: str  # the action, or the resource as the template writes it
    detail: str


def audit(emulation: Emulation, function: str, calls: list[Call]) -> list[Finding]:
    """Findings for one function: every access its calls need must be allowed (and not denied) by
    its statements, and every action and resource of its Allow statements used by some access."""
    statements = emulation.statements(function)
    allows = [s for s in statements if s.effect == "Allow"]
    denies = [s for s in statements if s.effect == "Deny"]
    used_actions: set[tuple[int, str]] = set()
    used_resources: set[tuple[int, str]] = set()
    findings: list[Finding] = []
    for call in calls:
        for access in emulation.accesses(call):
            allowing = [s for s in allows if s.matches(access)]
            if not allowing or any(s.matches(access) for s in denies):
                conditions = ", ".join(f"{k}={list(v)}" for k, v in access.conditions)
                findings.append(
                    Finding(function, "not allowed", access.action, f"{access.resource} {conditions}".strip())
                )
            for statement in allowing:
                used_actions.update(
                    (statement.index, a) for a in statement.actions if statement.allows_action(access.action, a)
                )
                used_resources.update(
                    (statement.index, label)
                    for label, arn in statement.resources
                    if fnmatch.fnmatchcase(access.resource, arn)
                )
    for statement in allows:
        for action in statement.actions:
            if (statement.index, action) not in used_actions:
                findings.append(Finding(function, "unused action", action, f"statement {statement.index}"))
        if not any(index == statement.index for index, _ in used_actions):
            continue  # a statement no call used: its actions say so already
        for label, _ in statement.resources:
            if (statement.index, label) not in used_resources:
                findings.append(Finding(function, "unused resource", label, f"statement {statement.index}"))
    return findings


# ----- the state machine's tasks -----------------------------------------------------------------

_OPTIMISED = re.compile(r"^arn:aws:states:::(?P<service>dynamodb|lambda):(?P<action>\w+)(?:\.\w+)?$")
_SDK = re.compile(r"^arn:aws:states:::aws-sdk:(?P<service>\w+):(?P<action>\w+)(?:\.\w+)?$")


def workflow_calls(definition: str, substitutions: Mapping[str, str]) -> list[Call]:
    """The API calls the state machine's Task states make (read from its ASL, with the template's
    DefinitionSubstitutions as the emulation resolved them), as the state machine's role signs them."""
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", value)
    found: list[Call] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("Type") == "Task":
                found.append(_task_call(node))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(definition))
    return found


def _task_call(state: Mapping[str, Any]) -> Call:
    resource = str(state["Resource"])
    params = {k.removesuffix(".$"): v for k, v in (state.get("Parameters") or {}).items()}
    matched = _OPTIMISED.match(resource) or _SDK.match(resource)
    if matched is None:
        raise ValueError(f"task resource not audited: {resource}")
    service, action = matched["service"], matched["action"]
    operation = "Invoke" if service == "lambda" else action[0].upper() + action[1:]
    if service == "dynamodb" and operation == "TransactWriteItems":
        items = []
        for entry in params["TransactItems"]:
            ((kind, item),) = entry.items()
            items.append({kind: {k.removesuffix(".$"): v for k, v in item.items()}})
        params["TransactItems"] = items
    for member in ("Key", "Item"):  # a path into the state's input: the key's values are not known here
        if isinstance(params.get(member), str):
            params[member] = {}
    for entry in params.get("TransactItems", []):
        for item in entry.values():
            for member in ("Key", "Item"):
                if isinstance(item.get(member), str):
                    item[member] = {}
    return Call("AgentWorkflow", service, operation, params)


def _holds_by_default(condition: str) -> bool:
    """Whether a template condition holds with the parameters' defaults (``Fn::Equals`` of a
    parameter and a value, the only form the policies' conditions take)."""
    left, right = template()["Conditions"][condition]["Fn::Equals"]
    if isinstance(left, dict) and set(left) == {"Ref"}:
        left = template()["Parameters"][left["Ref"]]["Default"]
    if not isinstance(right, str | int):
        raise ValueError(f"condition not audited: {condition}")
    return str(left) == str(right)
