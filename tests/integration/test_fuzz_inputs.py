"""Hostile input on every route, through the in-process gateway (the authorizer and the handlers
as API Gateway runs them, on moto): random bytes as bodies, bodies that are not one JSON object,
that nest too deeply or are too large, and odd Unicode (lone surrogates, NUL, bidi controls,
combining marks, 4-byte emoji, ...) in every body field, header and query parameter.

The routes, their parameters and their bodies are read from the OpenAPI document generated from
the handlers, so a new route is covered as soon as it exists. Whatever the input: never a 5xx.
Bad input is a 4xx in the dialect's error shape naming the problem, and writes nothing; odd but
valid text is either refused that way or kept exactly.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadline.api.agentuity import AGENTUITY
from threadline.api.routes import dialect_of
from threadline.models.domain import Thread
from threadline.models.limits import MAX_BODY_BYTES, MAX_BODY_DEPTH
from threadline_tools import openapi
from threadline_tools.gateway import Reply
from threadline_tools.provision import Deployment

from tests.conftest import Api, Seed, drain, executions, table_items

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same inputs on every run: CI is reproducible, a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Odd but valid text: NUL and other controls, bidi overrides and isolates, combining marks, zero
# width characters, a BOM, 4-byte emoji (with a ZWJ sequence and a flag), noncharacters, private use,
# line and paragraph separators, a Turkish dotless i, and a confusable Cyrillic letter.
ODD = (
    "\x00",
    "\x07\x1b\x7f",
    "\u202e\u2066\u200f",
    "e\u0301\u0338\u20dd",
    "\u200b\u200d\ufeff",
    "\U0001f600\U0001f469\u200d\U0001f4bb\U0001f1fa\U0001f1f8",
    "\ufffe\uffff\U0010ffff",
    "\ue000\U000f0000",
    "\u2028\u2029\r\n",
    "\u0131\u0430",
)
ODD_TEXT = "".join(ODD)
# Lone surrogates: a JSON body can escape them ("\ud800"); no text can hold them.
SURROGATES = ("\ud800", "\udfff", "a\udbffz")
ODD_ALPHABET = st.sampled_from([*ODD, *SURROGATES, "a", "_", "-", ".", "1", '"', "\\", "{", "%", " "])
odd_text = st.lists(ODD_ALPHABET, min_size=1, max_size=12).map("".join)

# Values for path parameters: the seeded thread and context, so that only the value under test is wrong.
BUSINESS_ID = "biz-1"


@dataclass(frozen=True)
class Operation:
    """A route of the OpenAPI document, as far as a client sees it."""

    method: str
    path: str  # template, e.g. /v1/threads/{thread_id}
    path_params: tuple[str, ...]
    query: tuple[str, ...]
    headers: tuple[str, ...]
    body: dict[str, Any] | None  # the body schema (resolved), None when the route takes none
    example: dict[str, Any]  # a valid body (the schema's example), {} without one

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        """Top-level body fields and their schemas; {"*": ...} for a free-form object."""
        if self.body is None:
            return {}
        return self.body.get("properties") or {"*": self.body}

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Target:
    """Where a value goes: a path parameter, a query parameter, a header or a body field."""

    location: str
    name: str


@functools.cache
def operations() -> tuple[Operation, ...]:
    """Every operation of the generated OpenAPI document."""
    document = openapi.generate()
    schemas = document["components"]["schemas"]
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body is not None and "anyOf" in body:  # an optional body: the object it may be
                body = next(kind for kind in body["anyOf"] if kind.get("type") != "null")
            if body is not None and "$ref" in body:
                body = schemas[body["$ref"].rsplit("/", 1)[1]]
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    path_params=tuple(p["name"] for p in parameters if p["in"] == "path"),
                    query=tuple(p["name"] for p in parameters if p["in"] == "query"),
                    headers=tuple(p["name"] for p in parameters if p["in"] == "header"),
                    body=body,
                    example=dict((body or {}).get("examples", [{}])[0]),
                )
            )
    return tuple(found)


def targets(operation: Operation) -> list[Target]:
    """Every place of ``operation`` a client puts a value in."""
    return [
        *(Target("path", name) for name in operation.path_params),
        *(Target("query", name) for name in operation.query),
        *(Target("header", name) for name in (*operation.headers, "Authorization", "Content-Type")),
        *(Target("body", name) for name in operation.fields),
    ]


def every_target() -> list[tuple[Operation, Target]]:
    return [(operation, target) for operation in operations() for target in targets(operation)]


@dataclass
class World:
    """The seeded state every request starts from, and a client of the gateway."""

    api: Api
    deployment: Deployment
    thread: Thread
    state: tuple[Any, ...] | None = None  # the table and executions after the last request, drained

    def path_values(self) -> dict[str, str]:
        return {"thread_id": self.thread.id, "step_id": "step-1", "context_type": "business", "context_id": BUSINESS_ID}

    def send(self, operation: Operation, target: Target | None = None, value: Any = None) -> Reply:
        """``operation`` with valid values everywhere but ``target``, which gets ``value``."""
        values = {**self.path_values(), **({target.name: value} if target and target.location == "path" else {})}
        path = operation.path
        for name in operation.path_params:
            # As a client sends it: percent-encoded UTF-8 (a lone surrogate as the bytes it would be).
            path = path.replace(
                f"{{{name}}}", quote(str(values.get(name, "x")).encode("utf-8", "surrogatepass"), safe="")
            )
        query = {target.name: value} if target and target.location == "query" else None
        headers: dict[str, str] = {}
        key = None
        if target and target.location == "header":
            if target.name == "Authorization":
                headers["Authorization"], key = f"Bearer {value}", ""
            else:
                headers[target.name] = value
        body: dict[str, Any] | None = dict(operation.example) if operation.body is not None else None
        if target and target.location == "body":
            assert body is not None
            body.pop(target.name, None)
            schema = operation.fields[target.name]
            shaped = {value: value} if _takes_object(schema) else value
            body.update(shaped if target.name == "*" else {target.name: shaped})
        if target == Target("header", "Content-Type") and body is None:
            body = {}  # the content type of a body
        raw = json.dumps(body) if body is not None else None  # (ASCII: surrogates and NUL escaped)
        return self.api.call(operation.method, path, query=query, headers=headers, key=key, raw_body=raw)


def _takes_object(schema: dict[str, Any]) -> bool:
    kinds = [schema, *schema.get("anyOf", [])]
    return any(kind.get("type") == "object" for kind in kinds)


@pytest.fixture
def world(api: Api, deployment: Deployment, seed: Seed, public_dns: dict[str, list[str]]) -> World:
    # A thread without a workflow (nothing writes behind the test's back) and its business; the
    # business of the create example is left absent, so that no create starts a workflow either.
    seed.business(BUSINESS_ID)
    return World(api, deployment, seed.thread())


@contextmanager
def written(world: World) -> Iterator[list[bool]]:
    """Yields a list that holds, after the block, whether the block changed the threads table
    (threads, steps, contexts, index items, counters) or started an execution."""
    if world.state is None:  # (else: as the last block left it, its writes indexed)
        drain()
        world.state = _state(world.deployment)
    before = world.state
    changed: list[bool] = []
    yield changed
    drain()
    world.state = _state(world.deployment)
    changed.append(world.state != before)


def _state(deployment: Deployment) -> tuple[Any, ...]:
    items = sorted(table_items(deployment), key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
    return items, executions(deployment)


def assert_clear_refusal(operation: Operation, reply: Reply, target: Target | None = None) -> None:
    """A 4xx in the dialect's error shape; a 400 about one parameter, header or body field names it."""
    assert 400 <= reply.status < 500, (str(operation), target, reply.status, reply.body[:300])
    body = reply.json()
    if dialect_of(operation.path) is AGENTUITY:
        assert body["success"] is False and body["code"] and body["message"], body
        code, named = body["code"], body["message"]
    else:
        (error,) = body["errors"]
        assert error["code"] and error["message"], body
        code, named = error["code"], f"{error['parameter']} {error['message']}"
    about_one_place = target is not None and target.location != "path" and target.name != "*"
    # (invalid_json: a problem of the whole body, such as a lone surrogate anywhere in it)
    if reply.status == 400 and about_one_place and code != "invalid_json":
        assert target is not None and target.name.lower() in named.lower(), (str(operation), target, body)


def check(world: World, operation: Operation, target: Target | None, value: Any, refused: bool) -> Reply:
    """Send; never a 5xx; a refusal is clear and writes nothing; ``refused``: it must be one."""
    with written(world) as changed:
        reply = world.send(operation, target, value)
    assert reply.status < 500, (str(operation), target, ascii(value), reply.status, reply.body[:300])
    if refused or reply.status >= 400:
        assert_clear_refusal(operation, reply, target)
        assert changed == [False], (str(operation), target, ascii(value), "a refused request wrote")
    return reply


def _contains(node: Any, value: str) -> bool:
    if isinstance(node, dict):
        return any(key == value or _contains(inner, value) for key, inner in node.items())
    if isinstance(node, list):
        return any(_contains(inner, value) for inner in node)
    return node == value


# ----- every route, every place: lone surrogates and odd Unicode -------------------------------


def test_every_route_has_places_to_fuzz() -> None:
    # The document lists every route, with its parameters and body (or the fuzzing below is hollow)
    found = {str(operation) for operation in operations()}
    assert {
        "POST /v1/threads",
        "GET /v1/threads",
        "GET /thread",
        "PUT /v1/contexts/{context_type}/{context_id}",
    } <= found
    assert len(every_target()) > 3 * len(found)


def test_a_lone_surrogate_anywhere_is_a_clear_4xx_and_writes_nothing(world: World) -> None:
    # Given every place of every route, when a lone surrogate is put there
    for operation, target in every_target():
        # Then the request is refused in the dialect's shape, naming the place, and writes nothing
        check(world, operation, target, SURROGATES[0], refused=True)


def test_odd_unicode_anywhere_is_kept_exactly_or_refused_clearly(world: World) -> None:
    # Given every place of every route, when odd but valid text is put there
    for operation, target in every_target():
        for value in (ODD_TEXT, ODD[0] + ODD[5]):
            reply = check(world, operation, target, value, refused=False)
            # Then what is accepted into a body is answered back exactly (it was stored as sent)
            if reply.status < 300 and target.location == "body" and operation.method in ("PUT", "PATCH"):
                assert _contains(reply.json(), value), (str(operation), target, ascii(value), reply.body[:300])


@FUZZ
@given(data=st.data())
def test_random_odd_text_anywhere_is_never_a_server_error(world: World, data: st.DataObject) -> None:
    operation, target = data.draw(st.sampled_from(every_target()), label="place")
    value = data.draw(odd_text, label="value")
    check(world, operation, target, value, refused=any(s in value for s in "\ud800\udfff\udbff"))


# ----- bodies: random bytes, not one object, too deep, too large ------------------------------

CONTENT_TYPES = (
    "application/json",
    "Application/JSON; charset=utf-8",
    "text/plain",
    "application/xml",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "",
)


def _is_object_or_null(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict | None)
    except (ValueError, RecursionError):
        return False


@FUZZ
@given(data=st.data())
def test_random_bytes_as_a_body_are_a_400_or_415_on_every_route(world: World, data: st.DataObject) -> None:
    # Given any route, any bytes as the body (as a client sends them: invalid UTF-8 arrives replaced)
    operation = data.draw(st.sampled_from(operations()), label="operation")
    raw = data.draw(st.binary(min_size=1, max_size=2000), label="bytes").decode("utf-8", errors="replace")
    content_type = data.draw(st.sampled_from(CONTENT_TYPES), label="content type")
    if content_type.split(";")[0].strip().lower() == "application/json" and _is_object_or_null(raw):
        return  # (a JSON object, or null: a body, valid or not, that the route reads)
    # When it is sent, then it is a 415 (not JSON) or a 400 (not one JSON object), and writes nothing
    with written(world) as changed:
        reply = world.api.call(
            operation.method, _path(world, operation), headers={"Content-Type": content_type}, raw_body=raw
        )
    assert_clear_refusal(operation, reply)
    assert reply.status in (400, 415), (str(operation), ascii(raw[:80]), reply.status, reply.body[:200])
    assert changed == [False]


def _path(world: World, operation: Operation) -> str:
    path = operation.path
    for name, value in world.path_values().items():
        path = path.replace(f"{{{name}}}", value)
    return path


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
not_an_object = st.one_of(
    json_scalars.filter(lambda value: value is not None),
    st.lists(st.recursive(json_scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)), max_size=5),
)


@st.composite
def too_deep(draw: st.DrawFn) -> str:
    """A JSON object whose field nests past the body limit, with arrays, objects or both."""
    depth = draw(st.integers(min_value=MAX_BODY_DEPTH, max_value=5_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")]))
    field = draw(st.sampled_from(["metadata", "user_data", "decision", "document", "x"]))
    return f'{{"{field}": ' + opener * depth + "1" + closer * depth + "}"


@FUZZ
@given(data=st.data())
def test_bodies_not_one_object_too_deep_or_too_large_are_refused_on_every_route(
    world: World, data: st.DataObject
) -> None:
    # Given any route and a body that is a JSON array or scalar, nests too deeply, or is too large
    operation = data.draw(st.sampled_from(operations()), label="operation")
    kind = data.draw(st.sampled_from(["not an object", "too deep", "too large"]), label="kind")
    if kind == "not an object":
        raw, status, message = json.dumps(data.draw(not_an_object)), 400, "Request body must be a JSON object"
    elif kind == "too deep":
        raw, status, message = data.draw(too_deep()), 400, "Request body nests too deeply"
    else:
        size = data.draw(st.integers(min_value=MAX_BODY_BYTES - 10, max_value=MAX_BODY_BYTES + 5_000))
        filler = data.draw(st.sampled_from(["x", "\u00e9", "\U0001f600"]))  # 1, 2 and 4 bytes each
        raw = '{"user_data": "' + filler * (size // len(filler.encode())) + '"}'
        if len(raw.encode()) <= MAX_BODY_BYTES:
            return  # (under the limit: the field's own limit decides)
        status, message = 413, "Request body must be at most"
    # When it is sent, then it is refused, saying why, and writes nothing
    with written(world) as changed:
        reply = world.api.call(operation.method, _path(world, operation), raw_body=raw)
    assert_clear_refusal(operation, reply)
    assert reply.status == status, (str(operation), kind, reply.status, reply.body[:200])
    assert message in reply.body, (str(operation), kind, reply.body[:200])
    assert changed == [False]


# ----- metadata: any JSON, stored and read back exactly, or refused --------------------------

metadata_values = st.recursive(
    json_scalars | st.floats(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(metadata=st.dictionaries(st.text(max_size=8), metadata_values, max_size=5))
def test_any_metadata_is_read_back_exactly_or_refused_clearly(world: World, metadata: dict[str, Any]) -> None:
    # Given any JSON object as metadata (NaN and infinities too, which Python's parser takes)
    update = next((op for op in operations() if str(op) == "PATCH /v1/threads/{thread_id}"), None)
    listing = next(op for op in operations() if str(op) == "GET /v1/threads")
    if update is None:
        pytest.skip("no PATCH /v1/threads/{thread_id} route")
    # When a thread is updated with it, and threads are listed by it
    with written(world) as changed:
        reply = world.api.call("PATCH", f"/v1/threads/{world.thread.id}", body={"metadata": metadata})
    listed = world.api.call("GET", "/v1/threads", query={"metadata": json.dumps(metadata)})
    # Then the update is refused clearly (writing nothing), or every later read shows what it stored
    if reply.status == 200:
        read = world.api.call("GET", f"/v1/threads/{world.thread.id}")
        # (as numbers: 1e16 is answered 1e+16 at once and 10000000000000000 once stored, the same number)
        assert read.status == 200 and _metadata(read) == _metadata(reply), read.body[:300]
    else:
        assert_clear_refusal(update, reply, Target("body", "metadata"))
        assert changed == [False]
    assert listed.status in (200, 400), listed.body[:300]
    if listed.status == 400:
        assert_clear_refusal(listing, listed, Target("query", "metadata"))


def _metadata(reply: Reply) -> Any:
    return json.loads(reply.body, parse_float=Decimal, parse_int=Decimal)["metadata"]


# ----- what fuzzing found (each was a 500, or a body taken as something else) -----------------


def test_a_body_nesting_just_past_what_every_parser_manages_is_a_400(world: World) -> None:
    # Around 930-950 levels the gateway's first parse succeeded and a parse deeper in the stack
    # (Powertools', pydantic's) hit Python's recursion limit: a 500, on every route with a body
    for operation in (op for op in operations() if op.body is not None):
        for depth in (MAX_BODY_DEPTH, 500, 935, 940, 945, 990):
            raw = '{"metadata": {"k": ' + "[" * depth + "]" * depth + "}}"
            with written(world) as changed:
                reply = world.api.call(operation.method, _path(world, operation), raw_body=raw)
            assert (reply.status, reply.json()["errors"][0]["message"]) == (400, "Request body nests too deeply")
            assert changed == [False], (str(operation), depth)


def test_a_context_document_nesting_deeper_than_replies_can_serialize_is_a_400(world: World) -> None:
    # A document nested 256+ levels was stored, then its reply (and every GET) failed to serialize: a 500
    for depth, message in (
        (65, "Context document may nest at most 64 levels deep"),
        (100, "Context document may nest at most 64 levels deep"),
        (255, "Request body nests too deeply"),
        (300, "Request body nests too deeply"),
    ):
        document = '{"k": ' + '{"a":' * (depth - 1) + "1" + "}" * (depth - 1) + "}"
        with written(world) as changed:
            reply = world.api.call("PUT", "/v1/contexts/business/deep-doc", raw_body=document)
        assert (reply.status, reply.json()["errors"][0]["message"]) == (400, message), depth
        assert changed == [False]
    assert world.api.call("GET", "/v1/contexts/business/deep-doc").status == 404


def test_a_context_document_as_deep_as_allowed_is_stored_and_read_back(world: World) -> None:
    document = {"k": 1}
    for _ in range(63):
        document = {"a": document}
    assert world.api.call("PUT", "/v1/contexts/business/deep-doc", body=document).status == 201
    read = world.api.call("GET", "/v1/contexts/business/deep-doc")
    assert read.status == 200 and read.json()["document"] == document


def test_a_metadata_filter_too_deep_or_with_a_lone_surrogate_is_a_400(world: World) -> None:
    # Deep: Python's JSON parser's RecursionError was a 500. A lone surrogate: silently matched nothing
    for path, value, message in (
        ("/v1/threads", "[" * 3000, "metadata nests too deeply"),
        ("/thread", '{"a": ' + "[" * 3000 + "]" * 3000 + "}", "metadata nests too deeply"),
        ("/v1/threads", '{"\\ud800": "x"}', "metadata has invalid Unicode (a lone surrogate escape)"),
        ("/thread", '{"team": "\\udfff"}', "metadata has invalid Unicode (a lone surrogate escape)"),
    ):
        reply = world.api.call("GET", path, query={"metadata": value})
        if path == "/thread":
            assert reply.json() == {"success": False, "message": message, "code": "invalid_parameter"}
        else:
            assert reply.json() == {
                "errors": [{"code": "invalid_parameter", "message": message, "parameter": "metadata"}]
            }
        assert reply.status == 400


def test_malformed_json_is_a_400_on_routes_that_take_no_body(world: World) -> None:
    # It was ignored: DELETE /thread/{id} with "{garbage" deleted the thread
    for operation in (op for op in operations() if op.body is None):
        with written(world) as changed:
            reply = world.api.call(operation.method, _path(world, operation), raw_body="{garbage")
        assert_clear_refusal(operation, reply)
        assert reply.status == 400 and "Request body is not valid JSON" in reply.body, (str(operation), reply.body)
        assert changed == [False]


def test_metadata_with_an_empty_key_below_the_top_is_a_400(world: World) -> None:
    # DynamoDB refuses an empty attribute name at any depth (a 500 in AWS; moto stored it, then
    # every read of the thread failed to parse)
    for metadata in ({"team": {"": "x"}}, {"team": [{"": True}]}):
        for method, path, body in (
            ("POST", "/v1/threads", {"type": "cip_orchestrator", "business_id": BUSINESS_ID, "metadata": metadata}),
            ("PATCH", f"/v1/threads/{world.thread.id}", {"metadata": metadata}),
        ):
            with written(world) as changed:
                reply = world.api.call(method, path, body=body)
            (error,) = reply.json()["errors"]
            assert (error["code"], error["parameter"]) == ("invalid_parameter", "metadata")
            assert error["message"].startswith("metadata keys may not be empty, at any level"), error
            assert reply.status == 400 and changed == [False]
