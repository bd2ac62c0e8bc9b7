"""Read ``template.yaml``: routes, functions and resources, one source of truth
for the local server, the tests and the OpenAPI document."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags as ``{"Fn": value}``."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@lru_cache(maxsize=1)
def template() -> dict[str, Any]:
    """The parsed template."""
    with TEMPLATE.open() as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)
    return loaded


def resources(kind: str) -> dict[str, dict[str, Any]]:
    """Resources of one CloudFormation type, by logical id."""
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


@dataclass(frozen=True)
class Route:
    """One API route and the function behind it."""

    method: str  # upper case, or ANY
    path: str  # API Gateway form, e.g. /v1/threads/{thread_id}
    function: str  # logical id
    code_uri: Path
    handler: str  # module.function, relative to code_uri

    def matches(self, path: str) -> dict[str, str] | None:
        """Path parameters when ``path`` matches this route's path."""
        want = self.path.strip("/").split("/")
        got = path.strip("/").split("/")
        if len(want) != len(got):
            return None
        params: dict[str, str] = {}
        for pattern, part in zip(want, got, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                if not part:
                    return None
                params[pattern[1:-1]] = part
            elif pattern != part:
                return None
        return params


def function_code(logical_id: str) -> tuple[Path, str]:
    """(code directory, handler) of a function, with Globals applied."""
    props = resources("AWS::Serverless::Function")[logical_id]["Properties"]
    handler = props.get("Handler") or template()["Globals"]["Function"]["Handler"]
    return ROOT / props["CodeUri"], handler


def template_routes() -> list[Route]:
    """Every API route as template.yaml declares it (a test holds it to :func:`routes`)."""
    found = []
    for name, resource in resources("AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                found.append(_route(event["Properties"]["Method"].upper(), event["Properties"]["Path"], name))
    return found


def routes() -> list[Route]:
    """Every API route, from the layer's route table (``threadline.api.routes``): each method's
    function, and ANY on each path to the 405 function (API Gateway prefers the exact method)."""
    from threadline.api.routes import METHOD_NOT_ALLOWED_FUNCTION, ROUTES, paths

    served = [_route(route.method, route.path, route.function) for route in ROUTES]
    return served + [_route("ANY", path, METHOD_NOT_ALLOWED_FUNCTION) for path in paths()]


def _route(method: str, path: str, function: str) -> Route:
    code_uri, handler = function_code(function)
    return Route(method=method, path=path, function=function, code_uri=code_uri, handler=handler)


def authorizer_function() -> str:
    """Logical id of the API's default authorizer function."""
    api = next(iter(resources("AWS::Serverless::Api").values()))["Properties"]
    auth = api["Auth"]
    arn = auth["Authorizers"][auth["DefaultAuthorizer"]]["FunctionArn"]
    return invoked_function(arn)


def invoked_function(reference: dict[str, Any]) -> str:
    """Logical id of the function an ARN reference names: ``!Ref <Function>.Alias`` (its alias
    ``live``, which API Gateway and the workflow invoke) or ``!GetAtt <Function>.Arn``."""
    if "Ref" in reference:
        return str(reference["Ref"]).removesuffix(".Alias")
    return str(reference["Fn::GetAtt"][0])


def load_handler(logical_id: str) -> Any:
    """Import a function's module from its CodeUri, as Lambda would, and return its handler."""
    attribute = function_code(logical_id)[1].rpartition(".")[2]
    return getattr(load_module(logical_id), attribute)


def load_module(logical_id: str) -> ModuleType:
    """Import a function's handler module from its CodeUri, as Lambda would (once)."""
    code_uri, handler = function_code(logical_id)
    return _load_module(code_uri / f"{handler.rpartition('.')[0]}.py", logical_id)


@cache
def _load_module(path: Path, logical_id: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"threadline_function_{logical_id}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
