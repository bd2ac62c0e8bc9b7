"""The OpenAPI document of the API, generated from the handlers.

``python -m threadline_tools.openapi [--check]``

Every route function of template.yaml is imported (as Lambda loads it) and its
Powertools resolver's ``get_openapi_schema()`` gives the route's path, its
parameters, its body and its response models. The routes are merged into one
OpenAPI 3.1 document with what the resolvers do not know: the Bearer API key
scheme, and the error responses in the dialect of the path (native
``{"errors": [...]}`` under ``/v1``, Agentuity ``{"success": false, ...}`` under
``/thread``). Every operation documents the statuses any route can answer, from
API Gateway (401, 404, 413, 414, 429, 500) or ``threadline.api`` (400, 403, 404, 405,
415, 500, 503), plus those its route declares with ``responses=`` (a 409 of
cancel, say), which get the dialect's error body. Powertools' own 422
"Validation Error" responses are dropped: this API answers an invalid request with
a 400 naming the parameter.

The document is written to ``docs/openapi.json`` (sorted keys, 2-space indent);
``--check`` exits 1 when that file differs from what would be generated.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from threadline.api.agentuity import AGENTUITY
from threadline.api.dialect import Dialect
from threadline.api.native import NATIVE
from threadline.api.routes import dialect_of

from threadline_tools.template import ROOT, load_module, resources, routes, template

OUTPUT = ROOT / "docs" / "openapi.json"
TITLE = "Threadline API"

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "One problem with a request.",
        "required": ["code", "message", "parameter"],
        "properties": {
            "code": {
                "type": "string",
                "description": "Machine-readable code, e.g. invalid_parameter, not_found, unauthorized.",
            },
            "message": {"type": "string", "description": "What went wrong, for a human."},
            "parameter": {
                "type": ["string", "null"],
                "description": "The parameter (query, path or body field) at fault, if any.",
            },
        },
    },
    "ErrorResponse": {
        "type": "object",
        "description": 'Native (Middesk) error body: `{"errors": [...]}`.',
        "required": ["errors"],
        "properties": {"errors": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Error"}}},
    },
    "AgentuityErrorResponse": {
        "type": "object",
        "description": 'Agentuity error body: `{"success": false, "message", "code"}`.',
        "required": ["success", "message", "code"],
        "properties": {
            "success": {"const": False},
            "message": {"type": "string"},
            "code": {"type": "string", "description": "Machine-readable code, e.g. not_found, unauthorized."},
        },
    },
}

# The statuses every route can answer: status: (response name, description, API Gateway response
# whose template gives the example, or the (code, message, parameter) that threadline.api answers with).
_ERRORS: dict[str, tuple[str, str, Any]] = {
    "400": (
        "BadRequest",
        "A malformed body, an unknown or repeated parameter, or a bad value; the error names the parameter.",
        ("invalid_parameter", "limit: Input should be less than or equal to 100", "limit"),
    ),
    "401": ("Unauthorized", "Missing, malformed, unknown or revoked API key.", "UNAUTHORIZED"),
    "403": (
        "Forbidden",
        "The API key lacks the scope (read or write) the operation needs.",
        ("forbidden", "This API key lacks the 'write' scope", None),
    ),
    "404": (
        "NotFound",
        "No such thread (absent, deleted, or another tenant's), or no such route.",
        ("not_found", "No thread with id 0b9f6c2e-6f2a-4c5e-9a51-6d1f0f3c2a7b", "id"),
    ),
    "405": (
        "MethodNotAllowed",
        "The path exists but does not serve this method; the Allow header lists the methods it serves.",
        ("method_not_allowed", "PUT is not allowed on /v1/threads; use GET, POST", None),
    ),
    "413": ("PayloadTooLarge", "The request body is larger than 1 MB.", "REQUEST_TOO_LARGE"),
    "414": ("UriTooLong", "The URL (path and query string) is longer than the gateway accepts.", "DEFAULT_4XX"),
    "415": (
        "UnsupportedMediaType",
        "A request body whose Content-Type is not application/json.",
        ("unsupported_media_type", "Request bodies are JSON: send Content-Type: application/json", None),
    ),
    "429": ("TooManyRequests", "Throttled by the API's rate limits.", "THROTTLED"),
    "500": (
        "InternalError",
        "An unexpected error; no details are shown.",
        ("internal_error", "Internal server error", None),
    ),
    "503": (
        "ServiceUnavailable",
        "AWS throttled or failed a call the request depends on, or a new thread's workflow could not be started;"
        " the same request may succeed later (after Retry-After's seconds, when given).",
        ("service_unavailable", "The service is busy (a request to AWS was throttled); retry after 2 seconds", None),
    ),
}
_SCHEMA_OF = {NATIVE: "ErrorResponse", AGENTUITY: "AgentuityErrorResponse"}
_HEADERS: dict[str, dict[str, Any]] = {
    "405": {"Allow": {"description": "The methods the path serves.", "schema": {"type": "string"}}},
    "503": {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def _response_name(status: str, dialect: Dialect) -> str:
    name = _ERRORS[status][0]
    return f"Agentuity{name}" if dialect is AGENTUITY else name


def _example(dialect: Dialect, status: str, source: Any) -> Any:
    """The body of an error: API Gateway's response template, or what the dialect answers."""
    if isinstance(source, str):
        api = next(iter(resources("AWS::Serverless::Api").values()))["Properties"]
        return json.loads(api["GatewayResponses"][source]["ResponseTemplates"]["application/json"])
    code, message, parameter = source
    return dialect.error_body(code, message, parameter)


def _error_response(dialect: Dialect, status: str, description: str) -> dict[str, Any]:
    """An error response of ``dialect``: its error body, and the headers that come with ``status``."""
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{_SCHEMA_OF[dialect]}"}}},
    }
    if status in _HEADERS:
        response["headers"] = copy.deepcopy(_HEADERS[status])
    return response


def _error_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (_, description, source) in _ERRORS.items():
        for dialect in _SCHEMA_OF:
            response = _error_response(dialect, status, description)
            response["content"]["application/json"]["example"] = _example(dialect, status, source)
            responses[_response_name(status, dialect)] = response
    return responses


def _document_errors(responses: dict[str, Any], dialect: Dialect) -> None:
    """Give the errors a route declares (``responses={409: {"description": ...}}``) the dialect's
    error body, in place of the return model Powertools gives them; add the statuses every route
    can answer."""
    for status, declared in responses.items():
        if int(status) >= 400:
            response = _error_response(dialect, status, declared["description"])
            if declared.get("headers"):
                response["headers"] = {**response.get("headers", {}), **declared["headers"]}
            responses[status] = response
    for status in _ERRORS:
        responses.setdefault(status, {"$ref": f"#/components/responses/{_response_name(status, dialect)}"})


def _resolvers() -> list[tuple[str, Any, Any]]:
    """(function logical id, Powertools resolver, route handler function) of every route function."""
    found = []
    for function in dict.fromkeys(r.function for r in routes() if r.method != "ANY"):
        module = vars(load_module(function))
        handlers = [v for k, v in module.items() if k.startswith("handle_") and inspect.isfunction(v)]
        found.append((function, module["app"], handlers[0] if len(handlers) == 1 else None))
    return found


def _merge_schema(into: dict[str, Any], name: str, schema: Any, function: str) -> None:
    if name in into and into[name] != schema:
        raise ValueError(f"components.schemas.{name} of {function} differs from another function's")
    into[name] = schema


def _references(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _references(value)
        return found
    if isinstance(node, list):
        return set().union(*(_references(v) for v in node)) if node else set()
    return set()


def _prune(document: dict[str, Any]) -> None:
    """Drop component schemas nothing refers to (Powertools' validation-error models)."""
    schemas = document["components"]["schemas"]
    prefix = "#/components/schemas/"
    while True:
        used = {ref.removeprefix(prefix) for ref in _references(document)}
        unused = [name for name in schemas if name not in used]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def generate() -> dict[str, Any]:
    """The OpenAPI document, as a dict."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = copy.deepcopy(_SCHEMAS)
    for function, app, handler in _resolvers():
        generated = json.loads(app.get_openapi_json_schema(title=TITLE))
        for name, schema in generated.get("components", {}).get("schemas", {}).items():
            _merge_schema(schemas, name, schema, function)
        for path, operations in generated["paths"].items():
            for method, operation in operations.items():
                if method in paths.get(path, {}):
                    raise ValueError(f"{method.upper()} {path} is served by two functions")
                responses = operation["responses"]
                if "HTTPValidationError" in json.dumps(responses.get("422", {})):
                    del responses["422"]  # this API answers validation errors with 400
                _document_errors(responses, dialect_of(path))
                if handler is not None and inspect.getdoc(handler) and "description" not in operation:
                    operation["description"] = str(inspect.getdoc(handler)).replace("``", "`")
                operation["x-threadline-function"] = function
                paths.setdefault(path, {})[method] = operation

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": _version(),
            "description": " ".join(str(template().get("Description", "")).split()),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [
            {
                "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
                "description": "A deployed stack (the ApiUrl output of `sam deploy`).",
                "variables": {
                    "api_id": {"default": "your-api-id", "description": "The REST API id."},
                    "region": {"default": "us-east-1"},
                    "stage": {"default": "api", "description": "The StageName parameter."},
                },
            },
            {"url": "http://127.0.0.1:8000", "description": "The local server (`make dev`)."},
        ],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "threads", "description": "Native dialect (`/v1`), compatible with Middesk's Agents Threads API."},
            {
                "name": "agentuity",
                "description": "Agentuity dialect (`/thread`), compatible with Agentuity's Threads API.",
            },
            {
                "name": "contexts",
                "description": "The documents threads work on (e.g. a business), per org; a thread needs its context.",
            },
            {"name": "agents", "description": "The registered agent types: what a thread's `type` can be."},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "tl_<key id>_<secret>",
                    "description": "An API key (`threadline keys create`), sent as `Authorization: Bearer <key>`.",
                }
            },
            "responses": _error_responses(),
            "schemas": schemas,
        },
    }
    _prune(document)
    return document


def render(document: dict[str, Any]) -> str:
    """The document as written to docs/openapi.json."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m threadline_tools.openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {OUTPUT.relative_to(ROOT)} is out of date")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write (default docs/openapi.json)")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
