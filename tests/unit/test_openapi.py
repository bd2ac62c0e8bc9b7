"""docs/openapi.json is generated from the handlers and kept in step with them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate
from threadline_tools import openapi
from threadline_tools.template import routes


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return openapi.generate()


def test_committed_document_is_the_generated_one(generated: dict[str, Any]) -> None:
    # Given the handlers as they are, when the document is generated,
    # then docs/openapi.json is exactly it (else: make openapi).
    assert openapi.OUTPUT.read_text(encoding="utf-8") == openapi.render(generated)


def test_document_is_valid_openapi(generated: dict[str, Any]) -> None:
    validate(generated)
    assert generated["info"]["title"] == "Threadline API"


def test_every_template_route_is_documented(generated: dict[str, Any]) -> None:
    documented = {(method.upper(), path) for path, ops in generated["paths"].items() for method in ops}
    wanted = {(r.method, r.path) for r in routes() if r.method != "ANY"}
    assert wanted <= documented
    assert documented <= wanted, "a documented operation has no route in template.yaml"


def test_every_operation_needs_a_bearer_key_and_documents_the_errors(generated: dict[str, Any]) -> None:
    assert generated["security"] == [{"bearerAuth": []}]
    assert generated["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, operations in generated["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            assert {"400", "401", "403", "404", "405", "413", "414", "415", "429", "500", "503"} <= set(responses), path
            # Validation errors are 400s in this API: a 422 is an Idempotency-Key reused, on the
            # operations that take one only
            takes_key = any(p.get("name", "").lower() == "idempotency-key" for p in operation.get("parameters", []))
            if takes_key:
                assert "Idempotency-Key" in responses["422"]["description"], path
            else:
                assert "422" not in json.dumps(responses), path
            prefix = "Agentuity" if path.startswith("/thread") else ""
            assert responses["401"] == {"$ref": f"#/components/responses/{prefix}Unauthorized"}


def test_error_bodies_match_each_dialect(generated: dict[str, Any]) -> None:
    responses = generated["components"]["responses"]
    native = responses["NotFound"]["content"]["application/json"]
    agentuity = responses["AgentuityNotFound"]["content"]["application/json"]
    assert native["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    assert native["example"]["errors"][0]["code"] == "not_found"
    assert agentuity["schema"] == {"$ref": "#/components/schemas/AgentuityErrorResponse"}
    assert agentuity["example"] == {"success": False, "message": agentuity["example"]["message"], "code": "not_found"}


def test_errors_a_route_declares_have_its_dialects_error_body(generated: dict[str, Any]) -> None:
    # Given routes that declare their own errors with responses= (cancel and resolve: 409),
    # then each is documented with the error body of the route's dialect, not the success model
    paths = generated["paths"]
    for path, method in (
        ("/v1/threads/{thread_id}/cancel", "post"),
        ("/v1/threads/{thread_id}/steps/{step_id}/resolve", "post"),
        ("/v1/threads/{thread_id}", "delete"),
        ("/thread/{thread_id}", "delete"),
    ):
        conflict = paths[path][method]["responses"]["409"]
        schema = "AgentuityErrorResponse" if path.startswith("/thread") else "ErrorResponse"
        assert conflict["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{schema}"}
        assert conflict["description"]
    # And a route that declares only errors keeps its success response and model
    cancel = paths["/v1/threads/{thread_id}/cancel"]["post"]["responses"]
    assert cancel["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ThreadOut"}


def test_every_error_response_is_an_error_body_and_503_says_when_to_retry(generated: dict[str, Any]) -> None:
    components = generated["components"]["responses"]
    for path, operations in generated["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                resolved = components[response["$ref"].rsplit("/", 1)[1]] if "$ref" in response else response
                schema = resolved["content"]["application/json"]["schema"]["$ref"]
                assert schema.endswith("ErrorResponse"), (method, path, status)
    assert "Retry-After" in components["ServiceUnavailable"]["headers"]
    assert "Allow" in components["AgentuityMethodNotAllowed"]["headers"]
