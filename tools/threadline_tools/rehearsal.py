"""Deploy rehearsal: ``template.yaml`` with the SAM transform applied, created as a
CloudFormation stack on the embedded AWS emulation (moto), and checked the way a deploy is.

    python -m threadline_tools.rehearsal [--parameter WorkflowType=EXPRESS ...]

Steps, as ``sam package`` + ``sam deploy`` take them: local code paths become S3 URIs (small
placeholder bundles are uploaded there: no code runs), the SAM transform is applied by the SAM
CLI's own translator (``sam_translate.py``, in ``.venv-sam``: ``make install-sam``), the stack is
created, and then:

* the stack completes and every output resolves to a value;
* every resource of the built template is in the stack, but those of the types moto skips (it
  creates nothing for a type it does not implement, silently): they are listed, not rehearsed,
  but for what they refer to, which must be in the built template;
* every function has its declared runtime, handler, timeout and memory, a role of the stack, a
  log group of the stack (``LoggingConfig``), and every variable it gets from a resource or
  parameter resolved; each alias (``AutoPublishAlias``) names the version the stack published;
* every table the functions name (their ``*_TABLE`` variables) has the key schema, indexes,
  stream and TTL the code expects (:data:`EXPECTED_TABLES`, from ``store/keys.py``) and the
  template declares;
* the state machine's definition, its substitutions applied, is JSON whose Lambda tasks name
  functions of the stack, and its ARN is the one the functions are given (``STATE_MACHINE_ARN``);
  here and below, "a function of the stack" is its alias where it has one (the unqualified
  function, or another qualifier, is then not one);
* the queues have their declared retention, visibility and redrive (to a queue of the stack);
* the event sources read the streams of the stack's tables and its queues;
* the EventBridge rules match and target the stack's resources; the log groups keep their
  declared retention;
* every route of the API's OpenAPI body is a method integrated with a function of the stack, and
  its Lambda authorizers invoke functions of the stack.

Properties moto accepts without applying them are listed in :data:`IGNORED_BY_MOTO`.

Where moto falls short of CloudFormation the rehearsal adapts the built template, each time
for a reason given in :func:`adapted_for_moto`; template.yaml itself is never changed.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import logging
import re
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
from threadline.store import keys

from threadline_tools.bench_moto import REGION, aws_sandbox
from threadline_tools.template import ROOT, template

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.literals import CapabilityType

STACK_NAME = "threadline-rehearsal"
ARTIFACTS_BUCKET = "threadline-rehearsal-artifacts"
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
TRANSLATE_SCRIPT = ROOT / "tools" / "threadline_tools" / "sam_translate.py"
CAPABILITIES: list[CapabilityType] = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


# Properties moto's CloudFormation accepts and does not apply: what they set is not rehearsed
# (the checks take a table's TTL from its declaration; the Body is worked around).
IGNORED_BY_MOTO: dict[str, list[str]] = {
    "AWS::DynamoDB::Table": ["TimeToLiveSpecification", "PointInTimeRecoverySpecification"],
    "AWS::StepFunctions::StateMachine": ["StateMachineType", "LoggingConfiguration", "TracingConfiguration"],
    "AWS::ApiGateway::RestApi": ["Body (its authorizer's settings, gateway responses and API key source)"],
    # moto gives a layer version an empty Ref, so the functions' Layers resolve to nothing;
    # a LoggingConfig's log group is checked in the template (a log group of the stack)
    "AWS::Lambda::Function": ["Architectures", "Layers", "SnapStart", "LoggingConfig", "TracingConfig"],
}


@dataclass(frozen=True)
class TableExpectation:
    """What the code needs of a table: its keys, the indexes it queries (name → partition
    attribute, sort attribute or None, projection), its stream's view and its TTL attribute."""

    key_schema: dict[str, str]  # attribute → HASH | RANGE
    indexes: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)
    stream_view: str | None = None
    ttl_attribute: str | None = None


# Keyed by the environment variable that names the table to the code (threadline.settings).
EXPECTED_TABLES: dict[str, TableExpectation] = {
    "THREADS_TABLE": TableExpectation(
        key_schema={"pk": "HASH", "sk": "RANGE"},
        indexes={name: (partition, sort, "KEYS_ONLY") for name, partition, sort in keys.all_index_names()},
        # the indexer and the event writer compare a change's old and new images
        stream_view="NEW_AND_OLD_IMAGES",
        ttl_attribute="purge_at",  # store/threads.py: a soft-deleted thread's purge
    ),
    "EVENTS_TABLE": TableExpectation(
        key_schema={"pk": "HASH", "sk": "RANGE"},
        indexes={index: (partition, "sk", "ALL") for index, partition in keys.EVENT_INDEXES.values()},
        stream_view="NEW_IMAGE",  # the webhook fan-out reads new events
        ttl_attribute="expires_at",  # store/events.py
    ),
    "KEYS_TABLE": TableExpectation(
        key_schema={"key_hash": "HASH"},
        # store/api_keys.py: org_id = :org (sorted by created_at), key_id = :id; whole records
        indexes={
            keys.KEYS_BY_ORG_INDEX: ("org_id", "created_at", "ALL"),
            keys.KEYS_BY_ID_INDEX: ("key_id", None, "ALL"),
        },
    ),
    "WEBHOOKS_TABLE": TableExpectation(key_schema={"pk": "HASH", "sk": "RANGE"}, ttl_attribute="expires_at"),
    # Powertools' DynamoDBPersistenceLayer defaults (threadline.wiring.idempotent_replies)
    "IDEMPOTENCY_TABLE": TableExpectation(key_schema={"id": "HASH"}, ttl_attribute="expiration"),
}


@dataclass
class Rehearsal:
    """What one rehearsal found."""

    parameters: dict[str, str]
    status: str = ""
    reason: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)  # logical id → type, in the stack
    skipped: dict[str, str] = field(default_factory=dict)  # logical id → type, not created by moto
    unrehearsed_outputs: list[str] = field(default_factory=list)  # outputs of skipped resources
    tables: dict[str, TableExpectation] = field(default_factory=dict)  # *_TABLE variable → its table
    definitions: dict[str, str] = field(default_factory=dict)  # state machine logical id → definition
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped_types(self) -> list[str]:
        """The resource types of the built template that the emulation does not create."""
        return sorted(set(self.skipped.values()))

    def report(self) -> str:
        """The rehearsal as text."""
        params = ", ".join(f"{k}={v}" for k, v in self.parameters.items()) or "defaults"
        lines = [
            f"Deploy rehearsal ({params}): {self.status} in {self.seconds:.1f} s",
            f"  {len(self.created)} resources created, {len(self.skipped)} skipped by the emulation",
            "  Outputs:",
            *(f"    {key} = {value}" for key, value in sorted(self.outputs.items())),
            "  Resource types the emulation skips (not rehearsed):",
        ]
        for kind in self.skipped_types:
            ids = sorted(name for name, t in self.skipped.items() if t == kind)
            lines.append(f"    {kind}: {', '.join(ids)}")
        lines.append("  Properties the emulation ignores (not rehearsed):")
        lines.extend(f"    {kind}: {', '.join(names)}" for kind, names in IGNORED_BY_MOTO.items())
        if self.unrehearsed_outputs:
            lines.append(f"  Outputs of skipped resources (not checked): {', '.join(self.unrehearsed_outputs)}")
        lines.append("  Problems:" if self.problems else "  No problems.")
        lines.extend(f"    {problem}" for problem in self.problems)
        return "\n".join(lines)


# ----- build ---------------------------------------------------------------------------------


def packaged_template() -> dict[str, Any]:
    """template.yaml as ``sam package`` leaves it: local code paths replaced by S3 URIs.

    The state machine's definition file is inlined (``Definition``) rather than uploaded: moto's
    state machine takes only an inline ``DefinitionString`` (it ignores ``DefinitionS3Location``).
    """
    packaged = copy.deepcopy(template())
    for resource in [packaged.get("Globals", {}).get("Function", {}), *packaged["Resources"].values()]:
        props = resource.get("Properties", resource)
        kind = resource.get("Type")
        for name in ("CodeUri", "ContentUri"):
            if isinstance(props.get(name), str) and not props[name].startswith("s3://"):
                props[name] = f"s3://{ARTIFACTS_BUCKET}/{props[name].strip('/')}.zip"
        if kind == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads((ROOT / props.pop("DefinitionUri")).read_text())
    return packaged


def translate(sam_template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The SAM transform of ``sam_template`` (the SAM CLI's translator, in its own environment)."""
    if not SAM_PYTHON.exists():
        raise RuntimeError(f"{SAM_PYTHON} is missing: run `make install-sam` (the SAM CLI's translator)")
    request = {"template": sam_template, "parameters": dict(parameters), "region": REGION}
    done = subprocess.run(
        [str(SAM_PYTHON), str(TRANSLATE_SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": REGION},  # no credentials or profile needed
    )
    if done.returncode != 0:
        raise RuntimeError(f"the SAM transform failed:\n{done.stderr}")
    translated: dict[str, Any] = json.loads(done.stdout)
    return translated


def adapted_for_moto(built: Mapping[str, Any]) -> dict[str, Any]:
    """The built template with moto's gaps worked around (CloudFormation itself needs none of this):

    * State machines: moto ignores ``DefinitionSubstitutions``; they are applied as the
      ``Fn::Sub`` they are equivalent to (the definition's lines joined as SAM joins them).
    * REST APIs: moto requires ``Name`` (API Gateway takes it from the OpenAPI body's title) and
      ignores ``Body``, and a deployment of an API without methods fails; each path and method
      of the body becomes an ``AWS::ApiGateway::Resource`` / ``Method`` (its integration URI as
      the body has it), and the API's deployments depend on them.
    * An attribute of a resource moto skips (an alarm's ARN, which the dashboard shows) cannot be
      resolved: it becomes a placeholder naming the resource and attribute (the reference itself
      is checked, as every skipped resource's are).
    * A Lambda authorizer's URI is in the body moto ignores: it becomes an output of the adapted
      template (``<Api>Rehearsal<Scheme>AuthorizerUri``), which the checks read.

    And two gaps are filled with models of the rehearsal's own, not by adapting the template
    (:func:`_rehearsal_models`, while a rehearsal runs): moto's CloudFormation has no
    ``AWS::Lambda::Alias`` (every ``Ref`` to an alias, as event source mappings, permissions,
    rules, the state machine and the API use, resolved to nothing: "Missing FunctionName"), and
    its ``AWS::Lambda::Version`` resolves neither ``Ref`` nor ``Fn::GetAtt .Version``. The
    version is published and the alias created through moto's Lambda API, as CloudFormation does.
    """
    adapted: dict[str, Any] = _without_skipped_attributes(copy.deepcopy(dict(built)), set(skipped_by_moto(built)))
    resources: dict[str, Any] = adapted["Resources"]
    for logical_id, resource in list(resources.items()):
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::StepFunctions::StateMachine" and "DefinitionSubstitutions" in props:
            definition = props["DefinitionString"]
            if isinstance(definition, dict) and "Fn::Join" in definition:
                separator, lines = definition["Fn::Join"]
                definition = separator.join(lines)
            props["DefinitionString"] = {"Fn::Sub": [definition, props.pop("DefinitionSubstitutions")]}
        if resource["Type"] == "AWS::ApiGateway::RestApi" and "Body" in props:
            body = props.pop("Body")
            props.setdefault("Name", body.get("info", {}).get("title", logical_id))
            methods = _api_methods(logical_id, body, resources)
            for scheme, uri in _authorizer_uris(body).items():
                adapted.setdefault("Outputs", {})[_authorizer_output(logical_id, scheme)] = {"Value": uri}
            for other in resources.values():
                if other["Type"] == "AWS::ApiGateway::Deployment" and other["Properties"].get("RestApiId") == {
                    "Ref": logical_id
                }:
                    other["DependsOn"] = sorted({*_as_list(other.get("DependsOn")), *methods})
    return adapted


def _without_skipped_attributes(value: Any, skipped: set[str]) -> Any:
    """``value`` with each ``Fn::GetAtt`` or ``Fn::Sub`` attribute of a ``skipped`` resource as a placeholder."""
    if isinstance(value, list):
        return [_without_skipped_attributes(item, skipped) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        name, attribute = target.split(".", 1) if isinstance(target, str) else target
        if name in skipped:
            return f"rehearsal-skipped:{name}.{attribute}"
    if set(value) == {"Fn::Sub"}:
        sub = value["Fn::Sub"]
        text, variables = (sub, None) if isinstance(sub, str) else sub

        def placeholder(match: re.Match[str]) -> str:
            name = match.group(1)
            return f"rehearsal-skipped:{name}.{match.group(2)}" if name in skipped else match.group(0)

        text = re.sub(r"\$\{([A-Za-z0-9]+)\.([A-Za-z0-9.]+)\}", placeholder, text)
        if variables is None:
            return {"Fn::Sub": text}
        return {"Fn::Sub": [text, _without_skipped_attributes(variables, skipped)]}
    return {key: _without_skipped_attributes(item, skipped) for key, item in value.items()}


def _api_methods(api: str, body: Mapping[str, Any], resources: dict[str, Any]) -> list[str]:
    """Add a Resource per path segment and a Method per operation of an OpenAPI body; their ids."""
    parents: dict[str, Any] = {"": {"Fn::GetAtt": [api, "RootResourceId"]}}
    methods = []
    for path, operations in sorted(body.get("paths", {}).items()):
        prefix = ""
        for part in path.strip("/").split("/"):
            parent, prefix = prefix, f"{prefix}/{part}"
            if prefix not in parents:
                resource_id = f"{api}Rehearsal{_alnum(prefix)}Resource"
                resources[resource_id] = {
                    "Type": "AWS::ApiGateway::Resource",
                    "Properties": {"RestApiId": {"Ref": api}, "ParentId": parents[parent], "PathPart": part},
                }
                parents[prefix] = {"Ref": resource_id}
        for verb, operation in operations.items():
            method = "ANY" if verb == "x-amazon-apigateway-any-method" else verb.upper()
            integration = operation["x-amazon-apigateway-integration"]
            security = {name for entry in operation.get("security", []) for name in entry}
            method_id = f"{api}Rehearsal{_alnum(path)}{method.title()}Method"
            resources[method_id] = {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": {"Ref": api},
                    "ResourceId": parents[prefix],
                    "HttpMethod": method,
                    "AuthorizationType": "CUSTOM" if security - {"api_key"} else "NONE",
                    "ApiKeyRequired": "api_key" in security,
                    "Integration": {
                        "Type": integration["type"].upper(),
                        "IntegrationHttpMethod": integration["httpMethod"],
                        "Uri": integration["uri"],
                    },
                },
            }
            methods.append(method_id)
    return methods


def _authorizer_uris(body: Mapping[str, Any]) -> dict[str, Any]:
    """The Lambda authorizers of an OpenAPI body: security scheme → its authorizer's URI."""
    return {
        scheme: spec["x-amazon-apigateway-authorizer"]["authorizerUri"]
        for scheme, spec in body.get("securityDefinitions", {}).items()
        if "authorizerUri" in spec.get("x-amazon-apigateway-authorizer", {})
    }


def _authorizer_output(api: str, scheme: str) -> str:
    return f"{api}Rehearsal{_alnum(scheme)}AuthorizerUri"


def _alnum(path: str) -> str:
    return "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", path))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def skipped_by_moto(built: Mapping[str, Any]) -> dict[str, str]:
    """The resources of ``built`` whose types moto's CloudFormation creates nothing for, even with
    the rehearsal's own models (:func:`_rehearsal_models`) (logical id → type)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    implemented = (set(get_model_map()) | set(_REHEARSAL_MODELS)) - set(NULL_MODELS)
    return {
        name: resource["Type"]
        for name, resource in built["Resources"].items()
        if resource["Type"] not in implemented and not resource["Type"].startswith("Custom::")
    }


# ----- rehearse ------------------------------------------------------------------------------


def rehearse(parameters: Mapping[str, str] | None = None, built: Mapping[str, Any] | None = None) -> Rehearsal:
    """Build the template, create it as a stack on moto with ``parameters``, and check the stack
    (``built``: an already built template instead, e.g. one a test has broken)."""
    from moto import mock_aws

    started = time.perf_counter()
    parameters = dict(parameters or {})
    built = dict(built) if built is not None else translate(packaged_template(), parameters)
    result = Rehearsal(parameters=parameters)
    with aws_sandbox(), mock_aws(), _quiet_moto(), _rehearsal_models():
        _upload_bundles(built)
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        try:
            cloudformation.create_stack(
                StackName=STACK_NAME,
                TemplateBody=json.dumps(adapted_for_moto(built)),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                Capabilities=CAPABILITIES,
            )
        except Exception as error:  # moto raises what a failed resource raised, not a stack status
            result.status, result.reason = "CREATE_FAILED", f"{type(error).__name__}: {error}"
            if isinstance(error, RecursionError):  # how moto meets a dependency cycle
                result.reason += " (resources that depend on each other?)"
            result.problems.append(f"the stack was not created: {result.reason}")
            result.seconds = time.perf_counter() - started
            return result
        _check_stack(result, built, cloudformation)
    result.seconds = time.perf_counter() - started
    return result


class _CreatedByArn:
    """A resource the rehearsal's own model made, whose ``Ref`` is its ARN."""

    def __init__(self, arn: str) -> None:
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def is_created(self) -> bool:
        return True


class _LambdaVersionModel(_CreatedByArn):
    """``AWS::Lambda::Version`` as CloudFormation makes it: moto's model publishes the version but
    resolves neither its ``Ref`` (the version's ARN) nor ``Fn::GetAtt .Version`` (which the
    alias names)."""

    def __init__(self, function_arn: str, version: str) -> None:
        super().__init__(f"{function_arn}:{version}")
        self.version = version

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return attribute in {"Version", "FunctionArn"}

    def get_cfn_attribute(self, attribute: str) -> str:
        if attribute == "Version":
            return self.version
        if attribute == "FunctionArn":
            return self.arn.rpartition(":")[0]
        raise NotImplementedError(f"{attribute} of an AWS::Lambda::Version")

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> _LambdaVersionModel:
        from moto.awslambda.models import lambda_backends

        function = lambda_backends[account_id][region_name].publish_version(
            cloudformation_json["Properties"]["FunctionName"], cloudformation_json["Properties"].get("Description", "")
        )
        if function is None:
            raise RuntimeError(f"moto published no version of {cloudformation_json['Properties']['FunctionName']}")
        return cls(function.function_arn.rpartition(":")[0], str(function.version))


class _LambdaAliasModel(_CreatedByArn):
    """``AWS::Lambda::Alias``, which moto's CloudFormation does not implement: the alias is made
    with moto's Lambda API (``CreateAlias``), and its ``Ref`` is its ARN, as CloudFormation's is."""

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return attribute == "AliasArn"

    def get_cfn_attribute(self, attribute: str) -> str:
        if attribute == "AliasArn":
            return self.arn
        raise NotImplementedError(f"{attribute} of an AWS::Lambda::Alias")

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> _LambdaAliasModel:
        from moto.awslambda.models import lambda_backends

        props = cloudformation_json["Properties"]
        alias = lambda_backends[account_id][region_name].create_alias(
            name=props["Name"],
            function_name=props["FunctionName"],
            function_version=str(props["FunctionVersion"]),
            description=props.get("Description", ""),
            routing_config=props.get("RoutingConfig", ""),
        )
        return cls(alias.arn)


# Resource types the rehearsal gives moto's CloudFormation a model of (see _rehearsal_models)
_REHEARSAL_MODELS: dict[str, type] = {
    "AWS::Lambda::Version": _LambdaVersionModel,
    "AWS::Lambda::Alias": _LambdaAliasModel,
}


@contextmanager
def _rehearsal_models() -> Iterator[None]:
    """moto's CloudFormation with :data:`_REHEARSAL_MODELS`, for the rehearsal only; and reading a
    JSON template as JSON (moto reads every template with PyYAML's pure-Python loader first:
    seconds for the built template, the same result)."""
    from moto.cloudformation.models import Stack
    from moto.cloudformation.parsing import get_model_map

    parse_yaml = Stack.parse_template

    def parse(template: str) -> dict[str, Any]:
        try:
            parsed: dict[str, Any] = json.loads(template)
        except ValueError:
            return parse_yaml(template)
        return parsed

    models = get_model_map()  # cached: the same mapping moto reads, restored on leaving
    saved = {kind: models[kind] for kind in _REHEARSAL_MODELS if kind in models}
    models.update(_REHEARSAL_MODELS)
    try:
        with mock.patch.object(Stack, "parse_template", staticmethod(parse)):
            yield
    finally:
        for kind in _REHEARSAL_MODELS:
            models.pop(kind, None)
        models.update(saved)


@contextmanager
def _quiet_moto() -> Iterator[None]:
    """Without moto's warning per skipped resource: the rehearsal lists them itself."""
    logger = logging.getLogger("moto")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tried to parse")
            yield
    finally:
        logger.setLevel(level)


def _upload_bundles(built: Mapping[str, Any]) -> None:
    """A placeholder zip at every S3 location the functions and layers load code from."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("app.py", "def lambda_handler(event, context):\n    return None\n")
    s3 = boto3.client("s3", region_name=REGION)
    buckets: set[str] = set()
    for resource in built["Resources"].values():
        for name in ("Code", "Content"):
            location = resource.get("Properties", {}).get(name)
            if isinstance(location, dict) and "S3Bucket" in location:
                if location["S3Bucket"] not in buckets:
                    s3.create_bucket(Bucket=location["S3Bucket"])
                    buckets.add(location["S3Bucket"])
                s3.put_object(Bucket=location["S3Bucket"], Key=location["S3Key"], Body=archive.getvalue())


# ----- checks --------------------------------------------------------------------------------


@dataclass
class _Stack:
    """The created stack as the checks read it."""

    built: dict[str, Any]
    physical: dict[str, str]  # logical id → physical id
    skipped: dict[str, str]
    environments: dict[str, dict[str, str]] = field(default_factory=dict)  # function logical id → variables
    function_arns: set[str] = field(default_factory=set)
    outputs: dict[str, str] = field(default_factory=dict)  # those of the adapted template too
    alias_versions: dict[str, str] = field(default_factory=dict)  # alias ARN → ARN of the version it names

    @property
    def invocable(self) -> set[str]:
        """What the stack's event sources, tasks, rules and API may invoke: each function's alias,
        or the function itself if it has none (a function with an alias is invoked through it)."""
        aliased = {arn.rpartition(":")[0] for arn in self.alias_versions}
        return set(self.alias_versions) | (self.function_arns - aliased)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """Resources of the built template of one type that are in the stack, by logical id."""
        return {
            name: resource
            for name, resource in self.built["Resources"].items()
            if resource["Type"] == kind and name in self.physical
        }


def _check_stack(result: Rehearsal, built: dict[str, Any], cloudformation: Any) -> None:
    stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    result.status, result.reason = stack["StackStatus"], stack.get("StackStatusReason", "")
    if result.status != "CREATE_COMPLETE":
        result.problems.append(f"the stack is {result.status}: {result.reason}")
    # (describe_stack_resources leaves some logical ids out on moto)
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=STACK_NAME)
    summaries = [summary for page in pages for summary in page["StackResourceSummaries"]]
    physical = {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}
    predicted = skipped_by_moto(built)
    active = _active_resources(built, result.parameters)
    for name, resource in built["Resources"].items():
        if name not in active:
            continue
        if name in physical:
            result.created[name] = resource["Type"]
        else:
            result.skipped[name] = resource["Type"]
    known = set(built["Resources"]) | set(built.get("Parameters", {}))
    for name, kind in result.skipped.items():
        if name not in predicted:  # a type moto implements, yet not created: a failure, not a gap
            result.problems.append(f"{name} ({kind}) is not in the stack")
        # moto resolves nothing of a skipped resource: at least what it refers to must exist
        for missing in sorted(_references(built["Resources"][name]) - known):
            if not missing.startswith("AWS::"):
                result.problems.append(f"{name} ({kind}) refers to {missing}, not in the built template")
    for summary in summaries:
        if summary["ResourceStatus"] != "CREATE_COMPLETE":
            result.problems.append(f"{summary['LogicalResourceId']} is {summary['ResourceStatus']}")
    checked = _Stack(built=built, physical=physical, skipped=result.skipped)
    checked.outputs = {output["OutputKey"]: output.get("OutputValue", "") for output in stack.get("Outputs", [])}
    _read_functions(result, checked)
    _check_outputs(result, checked, stack.get("Outputs", []))
    _check_environments(result, checked)
    _check_tables(result, checked)
    _check_state_machines(result, checked)
    _check_queues(result, checked)
    _check_event_sources(result, checked)
    _check_apis(result, checked)
    _check_rules(result, checked)
    _check_log_groups(result, checked)


def _active_resources(built: Mapping[str, Any], parameters: Mapping[str, str]) -> set[str]:
    """Logical ids of the resources whose condition holds (the template's conditions are
    comparisons of parameters: evaluated here as CloudFormation would)."""
    values = _parameter_values(built, parameters)
    conditions = built.get("Conditions", {})

    def holds(expression: Any) -> bool:
        if isinstance(expression, dict) and "Condition" in expression:
            return holds(conditions[expression["Condition"]])
        (function, arguments), *_ = expression.items()
        if function == "Fn::Equals":
            return bool(resolve(arguments[0]) == resolve(arguments[1]))
        if function == "Fn::Not":
            return not holds(arguments[0])
        if function == "Fn::And":
            return all(holds(a) for a in arguments)
        if function == "Fn::Or":
            return any(holds(a) for a in arguments)
        raise ValueError(f"condition function {function} is not evaluated here")

    def resolve(value: Any) -> str:
        return values[value["Ref"]] if isinstance(value, dict) else str(value)

    return {
        name
        for name, resource in built["Resources"].items()
        if "Condition" not in resource or holds(conditions[resource["Condition"]])
    }


def _parameter_values(built: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, str]:
    values = {name: str(spec.get("Default", "")) for name, spec in built.get("Parameters", {}).items()}
    values.update(parameters)
    return values


def _references(value: Any) -> set[str]:
    """Logical ids (and parameters) a template value refers to: Ref, Fn::GetAtt, Fn::Sub's ${...}."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                found -= set(inner[1]) if isinstance(inner, list) else set()
                found |= _references(inner[1]) if isinstance(inner, list) else set()
            else:
                found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def _read_functions(result: Rehearsal, stack: _Stack) -> None:
    """The functions' environments and ARNs; each runs with the settings the template gives it
    (Globals merged by the transform) under a role of the stack."""
    lambda_client = boto3.client("lambda", region_name=REGION)
    roles = {stack.physical[name] for name in stack.of_type("AWS::IAM::Role")}
    for name, resource in stack.of_type("AWS::Lambda::Function").items():
        configuration = lambda_client.get_function_configuration(FunctionName=stack.physical[name])
        stack.environments[name] = configuration.get("Environment", {}).get("Variables", {})
        stack.function_arns.add(configuration["FunctionArn"])
        props = resource["Properties"]
        for setting in ("Runtime", "Handler", "Timeout", "MemorySize"):
            if setting in props and str(configuration.get(setting)) != str(props[setting]):
                result.problems.append(f"{name}: {setting} is {configuration.get(setting)}, declared {props[setting]}")
        if configuration["Role"].rpartition("/")[2] not in roles:
            result.problems.append(f"{name} runs as {configuration['Role']}, not a role of the stack")
        log_group = props.get("LoggingConfig", {}).get("LogGroup")  # moto ignores LoggingConfig
        if isinstance(log_group, dict) and log_group.get("Ref") not in stack.of_type("AWS::Logs::LogGroup"):
            result.problems.append(f"{name}: logs to {log_group}, not a log group of the stack")
    _read_aliases(result, stack, lambda_client)


def _read_aliases(result: Rehearsal, stack: _Stack, lambda_client: Any) -> None:
    """Each alias names a version published of a function of the stack, the one its
    ``AWS::Lambda::Version`` resource published."""
    functions = {stack.physical[name]: name for name in stack.of_type("AWS::Lambda::Function")}
    for name, resource in stack.of_type("AWS::Lambda::Alias").items():
        function_name, _, alias_name = stack.physical[name].rpartition(":")
        function_name = function_name.rpartition(":")[2]
        if function_name not in functions:
            result.problems.append(f"{name}: an alias of {function_name}, not a function of the stack")
            continue
        alias = lambda_client.get_alias(FunctionName=function_name, Name=alias_name)
        version = resource["Properties"]["FunctionVersion"]
        if isinstance(version, dict) and "Fn::GetAtt" in version:
            target = version["Fn::GetAtt"]
            published = stack.physical.get(target[0] if isinstance(target, list) else target.split(".")[0], "")
            if published.rpartition(":")[2] != alias["FunctionVersion"]:
                result.problems.append(f"{name}: names version {alias['FunctionVersion']}, not {published}")
        if alias["FunctionVersion"] == "$LATEST":  # (an alias of a version that does not exist fails)
            result.problems.append(f"{name}: names $LATEST, not a published version")
            continue
        stack.alias_versions[alias["AliasArn"]] = f"{alias['AliasArn'].rpartition(':')[0]}:{alias['FunctionVersion']}"


def _check_rules(result: Rehearsal, stack: _Stack) -> None:
    """Each EventBridge rule targets the stack's functions, sends its dead letters to the stack's
    queues, and every ARN its pattern matches is one of the stack's (the state machine's)."""
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    queues = {
        sqs.get_queue_attributes(QueueUrl=stack.physical[name], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for name in stack.of_type("AWS::SQS::Queue")
    }
    machines = {
        stepfunctions.describe_state_machine(stateMachineArn=stack.physical[name])["stateMachineArn"]
        for name in stack.of_type("AWS::StepFunctions::StateMachine")
    }
    known = stack.invocable | queues | machines
    rules = {rule["Name"]: rule for rule in events.list_rules()["Rules"]}
    for name in stack.of_type("AWS::Events::Rule"):
        rule_name = stack.physical[name]
        if rule_name not in rules:
            result.problems.append(f"{name}: no rule {rule_name}")
            continue
        for arn in re.findall(r'"(arn:[^"]+)"', rules[rule_name].get("EventPattern", "")):
            if arn not in known:
                result.problems.append(f"{name}: its pattern matches {arn}, not a resource of the stack")
        for target in events.list_targets_by_rule(Rule=rule_name)["Targets"]:
            for arn in (target["Arn"], target.get("DeadLetterConfig", {}).get("Arn")):
                if arn is not None and arn not in known:
                    result.problems.append(f"{name}: a target names {arn}, not a resource of the stack")


def _check_log_groups(result: Rehearsal, stack: _Stack) -> None:
    """Each log group exists with its declared retention (a parameter's value, as given)."""
    logs = boto3.client("logs", region_name=REGION)
    parameters = _parameter_values(stack.built, result.parameters)
    groups = {
        group["logGroupName"]: group
        for page in logs.get_paginator("describe_log_groups").paginate()
        for group in page["logGroups"]
    }
    for name, resource in stack.of_type("AWS::Logs::LogGroup").items():
        group = groups.get(stack.physical[name])
        if group is None:
            result.problems.append(f"{name}: no log group {stack.physical[name]}")
            continue
        declared = resource.get("Properties", {}).get("RetentionInDays")
        if isinstance(declared, dict) and "Ref" in declared:
            declared = parameters.get(declared["Ref"])
        if declared is not None and str(group.get("retentionInDays")) != str(declared):
            result.problems.append(f"{name}: kept {group.get('retentionInDays')} days, declared {declared}")


def _unresolved(value: Any) -> bool:
    value = str(value)  # moto keeps a number it was given as one
    return not value or "${" in value or value == "None"


def _check_outputs(result: Rehearsal, stack: _Stack, outputs: list[dict[str, str]]) -> None:
    resolved = {output["OutputKey"]: output.get("OutputValue", "") for output in outputs}
    for key, output in stack.built.get("Outputs", {}).items():
        references = _references(output["Value"])
        if references & set(stack.skipped):
            result.unrehearsed_outputs.append(key)
            continue
        value = resolved.get(key, "")
        result.outputs[key] = value
        if _unresolved(value):
            result.problems.append(f"output {key} did not resolve: {value!r}")
        elif (
            isinstance(output["Value"], dict)
            and (ref := output["Value"].get("Ref")) in stack.physical
            and value != stack.physical[ref]
        ):
            result.problems.append(f"output {key} is {value!r}, not the id of {ref}")


def _check_environments(result: Rehearsal, stack: _Stack) -> None:
    """Every variable the template gives a function from a resource or parameter has a value."""
    for name in stack.environments:
        declared = stack.built["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
        for variable, value in declared.items():
            if _references(value) & set(stack.skipped):
                continue  # e.g. a secret moto does not create: its dynamic reference stays unresolved
            if _unresolved(stack.environments[name].get(variable, "")):
                result.problems.append(
                    f"{name}: {variable} did not resolve: {stack.environments[name].get(variable)!r}"
                )


def _declared_shape(props: Mapping[str, Any]) -> TableExpectation:
    stream = props.get("StreamSpecification")
    ttl = props.get("TimeToLiveSpecification", {})
    return TableExpectation(
        key_schema={k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]},
        indexes={index["IndexName"]: _index_shape(index) for index in props.get("GlobalSecondaryIndexes", [])},
        stream_view=stream["StreamViewType"] if stream else None,
        ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
    )


def _index_shape(index: Mapping[str, Any]) -> tuple[str, str | None, str]:
    schema = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
    return schema["HASH"], schema.get("RANGE"), index["Projection"]["ProjectionType"]


def _deployed_shape(dynamodb: Any, table: str, declared: TableExpectation) -> TableExpectation:
    """The table as the emulation made it; its TTL as declared (moto ignores TimeToLiveSpecification)."""
    description = dynamodb.describe_table(TableName=table)["Table"]
    stream = description.get("StreamSpecification", {})
    return TableExpectation(
        key_schema={k["AttributeName"]: k["KeyType"] for k in description["KeySchema"]},
        indexes={index["IndexName"]: _index_shape(index) for index in description.get("GlobalSecondaryIndexes", [])},
        stream_view=stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
        ttl_attribute=declared.ttl_attribute,
    )


def _check_tables(result: Rehearsal, stack: _Stack) -> None:
    """Each table is as declared, and each table a function is given is as the code needs it."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    deployed = {}
    for name, resource in stack.of_type("AWS::DynamoDB::Table").items():
        declared = _declared_shape(resource["Properties"])
        shape = deployed[stack.physical[name]] = _deployed_shape(dynamodb, stack.physical[name], declared)
        if shape != declared:
            result.problems.append(f"{name} is not as declared: {shape} != {declared}")
    for variable, expected in EXPECTED_TABLES.items():
        given = {env[variable] for env in stack.environments.values() if variable in env}
        if not given:
            result.problems.append(f"no function is given {variable}")
        if len(given) > 1:
            result.problems.append(f"the functions are given different tables as {variable}: {sorted(given)}")
        for table in sorted(given):
            if table not in deployed:
                result.problems.append(f"{variable} names {table!r}, not a table of the stack")
                continue
            result.tables[variable] = deployed[table]
            if deployed[table] != expected:
                result.problems.append(
                    f"{variable} ({table}) is not what the code expects: {deployed[table]} != {expected}"
                )


def _check_state_machines(result: Rehearsal, stack: _Stack) -> None:
    """Definitions parse with every substitution applied, their Lambda tasks name functions of the
    stack, and each ARN the functions are given (STATE_MACHINE_ARN) is a state machine of the stack."""
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    arns = set()
    for name in stack.of_type("AWS::StepFunctions::StateMachine"):
        described = stepfunctions.describe_state_machine(stateMachineArn=stack.physical[name])
        arns.add(described["stateMachineArn"])
        result.definitions[name] = described["definition"]
        if "${" in described["definition"]:
            result.problems.append(f"{name}: a substitution is left in the definition")
        try:
            definition = json.loads(described["definition"])
        except ValueError as error:
            result.problems.append(f"{name}: the definition is not JSON ({error})")
            continue
        for function in _lambda_arns(definition):
            if function not in stack.invocable:
                result.problems.append(f"{name}: a task invokes {function}, not a function of the stack")
    given = {env["STATE_MACHINE_ARN"] for env in stack.environments.values() if "STATE_MACHINE_ARN" in env}
    for arn in sorted(given - arns):
        result.problems.append(f"STATE_MACHINE_ARN is {arn}, not a state machine of the stack")


def _lambda_arns(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for inner in value.values():
            yield from _lambda_arns(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _lambda_arns(inner)
    elif isinstance(value, str) and value.startswith("arn:aws:lambda:"):
        yield value


def _check_queues(result: Rehearsal, stack: _Stack) -> None:
    """Retention, visibility and redrive as declared; a redrive's target is the stack's queue."""
    sqs = boto3.client("sqs", region_name=REGION)
    queues = stack.of_type("AWS::SQS::Queue")
    attributes = {
        name: sqs.get_queue_attributes(QueueUrl=stack.physical[name], AttributeNames=["All"])["Attributes"]
        for name in queues
    }
    for name, resource in queues.items():
        props, actual = resource["Properties"], attributes[name]
        for attribute in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"):
            if attribute in props and str(props[attribute]) != actual.get(attribute):
                result.problems.append(f"{name}: {attribute} is {actual.get(attribute)}, declared {props[attribute]}")
        if "RedrivePolicy" in props:
            declared, redrive = props["RedrivePolicy"], json.loads(actual.get("RedrivePolicy", "{}"))
            target = declared["deadLetterTargetArn"]
            wanted = attributes.get(target["Fn::GetAtt"][0], {}).get("QueueArn") if isinstance(target, dict) else target
            if redrive.get("deadLetterTargetArn") != wanted:
                result.problems.append(f"{name}: dead letters go to {redrive.get('deadLetterTargetArn')}, not {wanted}")
            if int(redrive.get("maxReceiveCount", 0)) != int(declared["maxReceiveCount"]):
                result.problems.append(f"{name}: maxReceiveCount is {redrive.get('maxReceiveCount')}")


def _check_event_sources(result: Rehearsal, stack: _Stack) -> None:
    """Each event source reads a stream of the stack's tables or a queue of the stack into a function of the stack."""
    dynamodb, sqs = boto3.client("dynamodb", region_name=REGION), boto3.client("sqs", region_name=REGION)
    sources = {
        dynamodb.describe_table(TableName=stack.physical[name])["Table"].get("LatestStreamArn")
        for name in stack.of_type("AWS::DynamoDB::Table")
    } | {
        sqs.get_queue_attributes(QueueUrl=stack.physical[name], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for name in stack.of_type("AWS::SQS::Queue")
    }
    mappings = boto3.client("lambda", region_name=REGION).list_event_source_mappings()["EventSourceMappings"]
    declared = stack.of_type("AWS::Lambda::EventSourceMapping")
    if len(mappings) != len(declared):
        result.problems.append(f"{len(mappings)} event source mappings, {len(declared)} declared")
    for mapping in mappings:
        if mapping["EventSourceArn"] not in sources:
            result.problems.append(
                f"an event source reads {mapping['EventSourceArn']}, not a stream or queue of the stack"
            )
        # moto reports the version an alias names where Lambda reports the alias
        function = {version: alias for alias, version in stack.alias_versions.items()}.get(
            mapping["FunctionArn"], mapping["FunctionArn"]
        )
        if function not in stack.invocable:
            result.problems.append(f"an event source feeds {mapping['FunctionArn']}, not a function of the stack")


def _check_apis(result: Rehearsal, stack: _Stack) -> None:
    """Every operation of an API's OpenAPI body is a method integrated with a function of the stack."""
    apigateway = boto3.client("apigateway", region_name=REGION)
    for name, resource in stack.of_type("AWS::ApiGateway::RestApi").items():
        body = resource["Properties"].get("Body", {})
        wanted = {
            (path, "ANY" if verb == "x-amazon-apigateway-any-method" else verb.upper())
            for path, operations in body.get("paths", {}).items()
            for verb in operations
        }
        found: dict[tuple[str, str], str] = {}
        for item in apigateway.get_resources(restApiId=stack.physical[name], limit=500)["items"]:
            for method in item.get("resourceMethods", {}):
                integration = apigateway.get_integration(
                    restApiId=stack.physical[name], resourceId=item["id"], httpMethod=method
                )
                found[(item["path"], method)] = integration.get("uri", "")
        if set(found) != wanted:
            result.problems.append(f"{name}: methods {sorted(set(found) ^ wanted)} differ from its OpenAPI body")
        for scheme in _authorizer_uris(body):
            uri = stack.outputs.get(_authorizer_output(name, scheme), "")
            if not any(uri.endswith(f"/functions/{arn}/invocations") for arn in stack.invocable):
                result.problems.append(f"{name}: the authorizer {scheme} invokes {uri!r}, not a function of the stack")
        for (path, method), uri in sorted(found.items()):
            if not any(uri.endswith(f"/functions/{arn}/invocations") for arn in stack.invocable):
                result.problems.append(
                    f"{name}: {method} {path} is integrated with {uri!r}, not a function of the stack"
                )


# ----- command -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter (repeatable); the defaults otherwise",
    )
    args = parser.parse_args(argv)
    parameters = dict(item.split("=", 1) for item in args.parameter)
    rehearsal = rehearse(parameters)
    print(rehearsal.report())
    return 1 if rehearsal.problems else 0


if __name__ == "__main__":
    sys.exit(main())
