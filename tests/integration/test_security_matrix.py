"""The security matrix: every route of template.yaml, crossed with every way a caller may be refused.

Callers: another org's key, a key of the same org restricted to another project, a read-only
key, a revoked key, no key, and malformed ``Authorization`` headers. Each cell has one expected
answer (401, 403, 404 byte-identical to an id that does not exist, or the caller's own data
only), and every body is searched for the other tenant's ids, metadata values, user_data,
context ids and keys. A refused write changes nothing in the table and starts no execution.

One deployment is seeded for the module; the cells only read it, or restore what they write.
The routes come from template.yaml: a route added there without an entry in ``MATRIX`` fails
``test_every_route_of_the_template_is_in_the_matrix`` and its own cells.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

import pytest
from threadline import clients, wiring
from threadline.api.routes import METHOD_NOT_ALLOWED_FUNCTION, allowed_methods, dialect_of, paths
from threadline.auth.api_keys import KEY_PATTERN, generate_key
from threadline.models.domain import Requester, Thread
from threadline.store import keys as store_keys
from threadline.store.plan import step_id
from threadline_tools.gateway import Gateway, Reply, gateway_response
from threadline_tools.provision import Deployment
from threadline_tools.template import Route, template_routes

from tests.conftest import Api, Keys, Seed, changes_nothing, deployed, drain, key_id, sample_business, seed_steps

ORG = "victim-org"  # the tenant whose data must not leak
OTHER_ORG = "other-org"
PROJECT = "alpha"  # the project of the victim's targeted threads
OTHER_PROJECT = "beta"
ABSENT_THREAD = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"  # no thread has this id
ABSENT_CONTEXT = "biz-nobody-has-this"
ABSENT_ENDPOINT = "we_000000000000000000000000"  # no endpoint has this id
ABSENT_EVENT = "evt_000000000000000000000000000000000000000000"  # nor any event this one
AGENT = "cip_orchestrator"


class Case(Enum):
    """Who calls."""

    FOREIGN_ORG = "another-orgs-key"
    OTHER_PROJECT = "key-restricted-to-another-project"
    READ_ONLY = "read-only-key"
    REVOKED = "revoked-key"
    NO_KEY = "no-key"
    MALFORMED = "malformed-header"


class Target(Enum):
    """What a route acts on, which decides how its path is filled and what each caller gets."""

    LIST = "list of threads (or of their runs)"
    CREATE = "new thread (or a run with its new thread)"
    THREAD = "a thread (or its run)"
    DELETED_THREAD = "a deleted thread"
    STEP = "a thread's step"
    CONTEXT = "a context"
    AGENTS = "the agent types (no tenant data)"
    WEBHOOK_LIST = "the org's webhook endpoints"
    WEBHOOK_CREATE = "a new webhook endpoint"
    WEBHOOK = "a webhook endpoint (or its delivery log)"
    EVENT = "an event (redelivered)"
    EVENT_LIST = "the org's events (of a project, for its key)"
    NO_METHOD = "a method the path does not serve (405)"


@dataclass(frozen=True)
class Entry:
    """A route's place in the matrix: the scope it needs, what it acts on, a valid body."""

    scope: Literal["read", "write"]
    target: Target
    body: dict[str, Any] | None = None


THREADS, THREAD, CONTEXT = "/v1/threads", "/v1/threads/{thread_id}", "/v1/contexts/{context_type}/{context_id}"
RUNS, RUN = "/v1/runs", "/v1/runs/{run_id}"  # the victim's thread is from before runs: its one run is named after it
ENDPOINTS, ENDPOINT = "/v1/webhook_endpoints", "/v1/webhook_endpoints/{endpoint_id}"
MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", THREADS): Entry("read", Target.LIST),
    ("POST", THREADS): Entry(
        "write", Target.CREATE, {"type": AGENT, "business_id": "{context_id}", "project_id": PROJECT}
    ),
    ("GET", THREAD): Entry("read", Target.THREAD),
    ("PATCH", THREAD): Entry("write", Target.THREAD, {"metadata": {"case": "changed"}, "user_data": "replaced"}),
    ("DELETE", THREAD): Entry("write", Target.THREAD),
    ("GET", f"{THREAD}/steps"): Entry("read", Target.THREAD),
    ("POST", f"{THREAD}/cancel"): Entry("write", Target.THREAD),
    ("POST", f"{THREAD}/restore"): Entry("write", Target.DELETED_THREAD),
    ("POST", f"{THREAD}/steps/{{step_id}}/resolve"): Entry("write", Target.STEP, {"decision": "approve"}),
    ("GET", CONTEXT): Entry("read", Target.CONTEXT),
    ("PUT", CONTEXT): Entry("write", Target.CONTEXT, sample_business()),
    ("DELETE", CONTEXT): Entry("write", Target.CONTEXT),
    ("GET", "/v1/agents"): Entry("read", Target.AGENTS),
    ("GET", RUNS): Entry("read", Target.LIST),
    ("POST", RUNS): Entry(
        "write", Target.CREATE, {"type": AGENT, "business_id": "{context_id}", "project_id": PROJECT}
    ),
    ("GET", RUN): Entry("read", Target.THREAD),
    ("POST", f"{RUN}/cancel"): Entry("write", Target.THREAD),
    ("POST", f"{RUN}/actions"): Entry(
        "write", Target.STEP, {"type": "decision", "interrupt_id": "{step_id}", "decision": "approve"}
    ),
    ("POST", f"{RUN}/feedback"): Entry("write", Target.STEP, {"step_id": "{step_id}", "rating": "positive"}),
    ("GET", f"{RUN}/stream"): Entry("read", Target.THREAD),
    ("GET", "/thread"): Entry("read", Target.LIST),
    ("GET", "/thread/{thread_id}"): Entry("read", Target.THREAD),
    ("DELETE", "/thread/{thread_id}"): Entry("write", Target.THREAD),
    ("GET", ENDPOINTS): Entry("read", Target.WEBHOOK_LIST),
    ("POST", ENDPOINTS): Entry("write", Target.WEBHOOK_CREATE, {"url": "https://93.184.215.14/hook"}),
    ("DELETE", ENDPOINT): Entry("write", Target.WEBHOOK),
    ("GET", f"{ENDPOINT}/deliveries"): Entry("read", Target.WEBHOOK),
    ("POST", "/v1/events/{event_id}/redeliver"): Entry("write", Target.EVENT),
    ("GET", "/v1/events"): Entry("read", Target.EVENT_LIST),
    # API Gateway sends every other method of a path to the 405 function (template.yaml's ANY)
    **{("ANY", path): Entry("read", Target.NO_METHOD) for path in paths()},
}


class Expect(Enum):
    """The answer a cell must get."""

    UNAUTHORIZED = "401, the gateway's JSON"
    FORBIDDEN = "403"
    AS_ABSENT = "404, byte-identical to an id that does not exist"
    OWN_LIST = "200, the caller's own threads only, counted alone"
    SERVED = "2xx, as to the data's owner"
    OWN_CONTEXT = "201: the caller's own org gets a context of that id; the victim's is untouched"
    OWN_WEBHOOK = "201: the caller's own org gets an endpoint; the victim's are untouched"
    METHOD_NOT_ALLOWED = "405"


def expected(entry: Entry, case: Case) -> Expect:
    """The matrix itself: what each caller gets from a route acting on ``entry.target``."""
    if case in (Case.REVOKED, Case.NO_KEY, Case.MALFORMED):
        return Expect.UNAUTHORIZED
    if entry.target is Target.NO_METHOD:
        return Expect.METHOD_NOT_ALLOWED
    if case is Case.READ_ONLY:
        return Expect.FORBIDDEN if entry.scope == "write" else Expect.SERVED
    if entry.target is Target.AGENTS:
        return Expect.SERVED
    if entry.target in (Target.WEBHOOK_LIST, Target.WEBHOOK_CREATE, Target.WEBHOOK, Target.EVENT):
        if case is Case.OTHER_PROJECT:
            return Expect.FORBIDDEN  # webhooks belong to the org: no project's key may use them
        own = {Target.WEBHOOK_LIST: Expect.OWN_LIST, Target.WEBHOOK_CREATE: Expect.OWN_WEBHOOK}
        return own.get(entry.target, Expect.AS_ABSENT)
    if entry.target in (Target.LIST, Target.EVENT_LIST):
        return Expect.OWN_LIST  # (the victim's events are of PROJECT: another project's key lists none)
    if case is Case.FOREIGN_ORG:
        # PUT names a context of the caller's own org: another org's of the same id is no concern of it.
        put = entry.target is Target.CONTEXT and entry.body is not None
        return Expect.OWN_CONTEXT if put else Expect.AS_ABSENT
    # Case.OTHER_PROJECT
    if entry.target is Target.CONTEXT:
        return Expect.SERVED  # contexts belong to the org, not a project (logic/contexts.py)
    if entry.target is Target.CREATE:
        return Expect.FORBIDDEN  # the body names a project the key is not restricted to
    return Expect.AS_ABSENT


# ----- the seeded world -----------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """One deployment with two orgs' data, and a key for each kind of caller."""

    deployment: Deployment
    api: Api
    owner: str  # the victim org's unrestricted read-write key
    callers: dict[Case, str]  # the key of each case that has one
    thread: Thread  # the victim's interrupted thread in PROJECT, with a waiting step
    deleted: Thread  # the victim's deleted thread in PROJECT
    step_id: str  # the waiting step of ``thread``
    context_id: str  # the victim's business, that ``thread`` works on
    visible: dict[Case, set[str]]  # the thread ids each caller lists
    secrets: dict[Case, frozenset[str]]  # what no body may show each caller
    key_secrets: frozenset[str]  # every key and its secret part: no body shows them to anyone
    cursor: str  # a cursor of the owner's list
    run_cursor: str  # a cursor of the owner's list of runs
    endpoint_id: str  # the victim's webhook endpoint, with a logged delivery
    event_id: str  # an event of ``thread``


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """Seeded once for the module: the cells read it, or restore what they write."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("STREAM_WINDOW_SECONDS", "0.2")  # a run's stream holds no cell for long
        with deployed(patch) as deployment:
            yield _seed(deployment)


def secret_of(key: str) -> str:
    """The secret part of an API key (it may itself hold underscores)."""
    match = KEY_PATTERN.match(key)
    assert match is not None, key
    return match.group(2)


def _marker(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:12]}"


def _seed(deployment: Deployment) -> World:
    keys, seed = Keys(deployment), Seed()
    owner = keys.create(ORG)
    revoked = keys.create(ORG)
    keys.revoke(revoked)
    callers = {
        Case.FOREIGN_ORG: keys.create(OTHER_ORG),
        Case.OTHER_PROJECT: keys.create(ORG, project_id=OTHER_PROJECT),
        Case.READ_ONLY: keys.create(ORG, scopes=("read",)),
        Case.REVOKED: revoked,
    }
    requester = Requester(id=key_id(owner), name="victim key")

    # Given the victim's threads in two projects: an interrupted one waiting for a human, a
    # completed one and a deleted one in PROJECT, and one in OTHER_PROJECT
    context_id, other_context = _marker("biz-victim"), _marker("biz-victim-beta")
    seed.business(context_id, other_context, org_id=ORG)

    def victim(project: str, context: str, minute: float, **fields: Any) -> Thread:
        meta = {"case": _marker("meta-value"), "nested": {"ref": _marker("meta-nested")}}
        return seed.thread(
            ORG,
            created=minute,
            project_id=project,
            context_id=context,
            metadata=meta,
            user_data=_marker("user-data"),
            requester=requester,
            **fields,
        )

    thread = victim(PROJECT, context_id, 1, status="interrupted")
    seed_steps(thread, {"decision": "completed", "human_review": "waiting"})
    completed = victim(PROJECT, context_id, 2, status="completed")
    deleted = victim(PROJECT, context_id, 3, status="completed")
    beta = victim(OTHER_PROJECT, other_context, 4)
    gateway = Gateway(before_request=drain)
    api = Api(gateway, owner)
    assert api.call("DELETE", f"/v1/threads/{deleted.id}").status == 200

    # And another org's threads, one in a project of the same name, on a context of its own
    seed.business("biz-other", org_id=OTHER_ORG)
    theirs = [seed.thread(OTHER_ORG, created=m, project_id=PROJECT, context_id="biz-other") for m in (5, 6)]

    victims = [thread, completed, deleted, beta]
    in_project = [t for t in victims if t.project_id == PROJECT]
    step_ids = {step_id(t.id, name) for t in victims for name in ("decision", "human_review")}
    all_keys = {owner, *callers.values()}
    key_secrets = all_keys | {secret_of(key) for key in all_keys}

    def data_of(threads: list[Thread]) -> set[str]:
        found = set()
        for t in threads:
            assert t.metadata is not None and t.user_data is not None
            found |= {t.id, t.user_data, t.context_id, t.metadata["case"], t.metadata["nested"]["ref"]}
        return found

    cursor = api.call("GET", THREADS, query={"limit": 1}).json()["next_cursor"]
    run_cursor = api.call("GET", RUNS, query={"limit": 1}).json()["next_cursor"]
    assert cursor and run_cursor
    endpoint_id, event_id, webhook_data = _seed_webhooks(thread)
    foreign = data_of(victims) | step_ids | {ORG, key_id(owner), other_context} | webhook_data
    return World(
        deployment=deployment,
        api=api,
        owner=owner,
        callers=callers,
        thread=thread,
        deleted=deleted,
        step_id=step_id(thread.id, "human_review"),
        context_id=context_id,
        visible={
            Case.FOREIGN_ORG: {t.id for t in theirs},
            Case.OTHER_PROJECT: {beta.id},
            Case.READ_ONLY: {thread.id, completed.id, beta.id},
        },
        secrets={
            Case.FOREIGN_ORG: frozenset(foreign | key_secrets),
            Case.OTHER_PROJECT: frozenset(data_of(in_project) | step_ids | key_secrets | webhook_data),
            # Refused callers see nothing of the org at all
            **dict.fromkeys(
                (Case.READ_ONLY, Case.REVOKED, Case.NO_KEY, Case.MALFORMED), frozenset(foreign | key_secrets)
            ),
        },
        key_secrets=frozenset(key_secrets),
        cursor=cursor,
        run_cursor=run_cursor,
        endpoint_id=endpoint_id,
        event_id=event_id,
    )


def _seed_webhooks(thread: Thread) -> tuple[str, str, set[str]]:
    """The victim's webhook endpoint (with one logged attempt) and an event of its thread; the
    endpoint's id, the event's id, and what no other tenant may see of them."""
    from threadline.models.events import Event
    from threadline.models.webhooks import DeliveryAttempt, WebhookEndpoint
    from threadline.webhooks.signing import new_secret

    endpoint = WebhookEndpoint(
        id=f"we_{uuid.uuid4().hex[:24]}",
        org_id=ORG,
        url=f"https://hooks.example.com/{_marker('hook-path')}",
        events=(),
        description=_marker("hook-description"),
        created_at="2024-01-15T09:30:00.000Z",
    )
    secret = new_secret()
    wiring.webhook_store().create(endpoint, secret)
    event_id = store_keys.event_id("4242", 0)
    at = "2024-01-15T09:31:00.000Z"
    body = json.dumps(
        {
            "object": "event",
            "id": event_id,
            "type": "run.created",
            "created_at": at,
            "data": {"object": {"id": thread.id}},
        }
    )
    wiring.event_store().record(
        Event(
            id=event_id,
            type="run.created",
            org_id=ORG,
            project_id=thread.project_id,
            thread_id=thread.id,
            run_id=thread.id,
            created_at=at,
            body=body,
        )
    )
    wiring.webhook_store().log(
        ORG,
        DeliveryAttempt(
            id="dlv_seeded.1",
            delivery_id="dlv_seeded",
            endpoint_id=endpoint.id,
            event_id=event_id,
            attempt=1,
            attempted_at="2024-01-15T09:31:01.000Z",
            status="succeeded",
            http_status=204,
            error=None,
            duration_ms=12,
            state="delivered",
            next_attempt_at=None,
        ),
    )
    assert endpoint.description is not None
    return endpoint.id, event_id, {endpoint.id, endpoint.url, endpoint.description, secret}


# ----- requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None
    query: dict[str, Any] | None = None

    def text(self) -> str:
        """Everything the caller itself sent (but its key): what a reply may echo."""
        return f"{self.path} {json.dumps(self.query)} {json.dumps(self.body)}"


def method_of(route: Route) -> str:
    """The method to call: an ANY route's is one its path does not serve."""
    if route.method != "ANY":
        return route.method
    return next(m for m in ("PATCH", "PUT", "POST", "DELETE", "GET") if m not in allowed_methods(route.path))


def request_for(world: World, route: Route, entry: Entry, absent: bool = False) -> Request:
    """The route's request on the victim's data (``absent``: on ids that do not exist)."""
    thread_id = world.deleted.id if entry.target is Target.DELETED_THREAD else world.thread.id
    values = {
        "thread_id": ABSENT_THREAD if absent else thread_id,
        "run_id": ABSENT_THREAD if absent else thread_id,
        "step_id": world.step_id,
        "context_type": "business",
        "context_id": ABSENT_CONTEXT if absent else world.context_id,
        "endpoint_id": ABSENT_ENDPOINT if absent else world.endpoint_id,
        "event_id": ABSENT_EVENT if absent else world.event_id,
    }
    path = route.path.format(**values)
    body = entry.body
    if body is not None and entry.target in (Target.CREATE, Target.STEP):
        body = {name: value.format(**values) if isinstance(value, str) else value for name, value in body.items()}
    return Request(method_of(route), path, body)


def send(world: World, request: Request, key: str | None, headers: dict[str, str] | None = None) -> Reply:
    """``key`` None: no Authorization header (or the one in ``headers``)."""
    return world.api.call(
        request.method, request.path, body=request.body, query=request.query, key=key or "", headers=headers
    )


def leaks(reply: Reply, secrets: frozenset[str], request: Request) -> list[str]:
    """The secrets a reply shows that the request did not itself carry."""
    shown = reply.body + " " + json.dumps(reply.headers)
    sent = request.text()
    return sorted(secret for secret in secrets if secret in shown and secret not in sent)


def listed(reply: Reply) -> tuple[set[str], int | None]:
    """The thread (or run) ids of a list reply, and its total_count (None in the Agentuity dialect).
    The seeded threads are from before runs: each has one run, named after it."""
    body = reply.json()
    return {thread["id"] for thread in body["data"]}, body.get("total_count")


def list_variants(world: World, route: Route) -> list[dict[str, Any]]:
    """Queries naming the victim's data: each must answer the caller's own threads only."""
    metadata = json.dumps({"case": (world.thread.metadata or {})["case"]})
    if route.path.startswith("/thread"):
        return [{"orgId": ORG}, {"projectId": PROJECT}, {"metadata": metadata}, {"orgId": ORG, "projectId": PROJECT}]
    if route.path == "/v1/events":
        return [
            {"thread_id": world.thread.id},
            {"run_id": world.thread.id},
            {"type": "run.created"},
            {"run_id": world.thread.id, "after": store_keys.event_id("1", 0)},
        ]
    if route.path == RUNS:
        return [
            {"thread_id": world.thread.id},
            {"thread_id": world.deleted.id},
            {"status": "interrupted"},
            {"agent": AGENT, "per_page": 100},
            {"limit": 1, "cursor": world.run_cursor},  # the victim's cursor
        ]
    return [
        {"business_id": world.context_id},
        {"metadata": metadata},
        {"project_id": PROJECT},
        {"include_deleted": "true"},
        {"status": "interrupted"},
        {"type": AGENT, "per_page": 100},
        {"limit": 1, "cursor": world.cursor},  # the victim's cursor
    ]


MALFORMED_HEADERS = [
    "",
    "Bearer",
    "Bearer tl_short",
    "Basic dXNlcjpwYXNz",
    "Token {key}",
    "{key}",
    "Bearer {key}x",
    "Bearer {key} {key}",
    "Bearer {unknown}",  # well formed, never issued
    "Bearer {wrong_secret}",  # the key's id with another secret
]


def malformed_headers(key: str) -> list[str]:
    unknown = generate_key()[1]
    wrong_secret = key.removesuffix(secret_of(key)) + base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=")
    return [h.format(key=key, unknown=unknown, wrong_secret=wrong_secret) for h in MALFORMED_HEADERS]


def writes_nothing(world: World, entry: Entry) -> AbstractContextManager[None]:
    """A write route's refusal is proven to change nothing (a whole-table comparison, ~0.2 s on
    moto): a read route's cells skip it."""
    return changes_nothing(world.deployment) if entry.scope == "write" else nullcontext()


# ----- the matrix -------------------------------------------------------------------------------


def _cells() -> list[Any]:
    return [
        pytest.param(route, case, id=f"{route.method} {route.path} by {case.value}")
        for route in template_routes()
        for case in Case
    ]


def test_every_route_of_the_template_is_in_the_matrix() -> None:
    # Given the routes template.yaml declares (a 405 function's ANY included)
    declared = {(route.method, route.path) for route in template_routes()}

    # Then each has its matrix entry, and the matrix names no route that does not exist
    assert sorted(declared - MATRIX.keys()) == [], "add these routes to MATRIX"
    assert sorted(MATRIX.keys() - declared) == [], "MATRIX names routes template.yaml does not have"
    no_method = {path for method, path in declared if method == "ANY"}
    assert all(MATRIX[("ANY", path)].target is Target.NO_METHOD for path in no_method)
    assert {r.function for r in template_routes() if r.method == "ANY"} == {METHOD_NOT_ALLOWED_FUNCTION}


@pytest.mark.parametrize(("route", "case"), _cells())
def test_the_matrix(world: World, route: Route, case: Case) -> None:
    # Given a route of template.yaml, its entry in the matrix, and a kind of caller
    entry = MATRIX.get((route.method, route.path))
    assert entry is not None, f"{route.method} {route.path} has no entry in MATRIX"
    expect = expected(entry, case)
    request = request_for(world, route, entry)
    # When the caller calls it on the victim's data, Then it gets what the matrix expects, and nothing more
    _CHECKS[expect](world, route, entry, case, request, world.secrets[case])


def _unauthorized(
    world: World, route: Route, entry: Entry, case: Case, request: Request, secrets: frozenset[str]
) -> None:
    # Given no key, malformed headers, or a revoked key
    attempts: list[tuple[str | None, dict[str, str] | None]] = [(None, None)]  # no key
    if case is Case.REVOKED:
        attempts = [(world.callers[Case.REVOKED], None)]
    elif case is Case.MALFORMED:
        attempts = [(None, {"Authorization": header}) for header in malformed_headers(world.owner)]
    refused = gateway_response("UNAUTHORIZED")
    with writes_nothing(world, entry):
        # When the route is called with each
        replies = [send(world, request, key, headers) for key, headers in attempts]

    # Then each is the gateway's 401, showing nothing, and nothing was written
    for reply in replies:
        assert (reply.status, reply.json()) == (refused.status, refused.json())
        assert leaks(reply, secrets, request) == []


def _forbidden(world: World, route: Route, entry: Entry, case: Case, request: Request, secrets: frozenset[str]) -> None:
    # Given a read-only key on a write route, or a project key naming another project
    with writes_nothing(world, entry):
        # When it calls the route on the victim's data
        reply = send(world, request, world.callers[case])

    # Then 403 in the route's dialect, showing nothing, and nothing was written
    message = (
        "This API key lacks the 'write' scope"
        if case is Case.READ_ONLY
        else f"This API key is restricted to project {OTHER_PROJECT}"
    )
    assert (reply.status, reply.body) == (403, dialect_of(route.path).error_json("forbidden", message, None))
    assert leaks(reply, secrets, request) == []


def _as_absent(world: World, route: Route, entry: Entry, case: Case, request: Request, secrets: frozenset[str]) -> None:
    # Given another tenant's key, and an id that does not exist
    key = world.callers[case]
    absent = request_for(world, route, entry, absent=True)
    with writes_nothing(world, entry):
        # When it calls the route on the victim's thread, step or context, and on the absent id
        reply = send(world, request, key)
        reference = send(world, absent, key)

    # Then both are the same 404, byte for byte (but the id each named), and nothing was written
    assert reference.status == 404, reference.body
    echoed = {
        ABSENT_THREAD: world.thread.id,
        ABSENT_CONTEXT: world.context_id,
        ABSENT_ENDPOINT: world.endpoint_id,
        ABSENT_EVENT: world.event_id,
    }
    if entry.target is Target.DELETED_THREAD:
        echoed[ABSENT_THREAD] = world.deleted.id
    body, headers = reference.body, json.dumps(reference.headers)
    for missing, real in echoed.items():
        body, headers = body.replace(missing, real), headers.replace(missing, real)
    assert (reply.status, reply.body, json.dumps(reply.headers)) == (404, body, headers)
    assert leaks(reply, secrets, request) == []


def _own_list(world: World, route: Route, entry: Entry, case: Case, request: Request, secrets: frozenset[str]) -> None:
    # Given a caller of another org, or restricted to another project
    key, own = world.callers[case], world.visible[case]
    if entry.target in (Target.WEBHOOK_LIST, Target.EVENT_LIST):
        own = set()  # the other org has no endpoints and no events, nor has the other project
    queries = list_variants(world, route) if entry.target in (Target.LIST, Target.EVENT_LIST) else []
    variants = [request] + [Request("GET", request.path, query=q) for q in queries]
    with writes_nothing(world, entry):
        # When it lists, plainly and with filters naming the victim's data (and the victim's cursor)
        replies = [(variant, send(world, variant, key)) for variant in variants]

    # Then it sees its own threads only, counted alone, and nothing of the victim
    plain = replies[0][1]
    assert plain.status == 200, plain.body
    ids, total = listed(plain)
    assert ids == own
    assert total in (None, len(own))
    for variant, reply in replies:
        assert leaks(reply, secrets, variant) == [], variant
        if variant.query and "cursor" in variant.query:
            assert reply.status == 400, reply.body  # a cursor is bound to the query and tenant it was made for
            continue
        assert reply.status == 200, (variant, reply.body)
        ids, total = listed(reply)
        assert ids <= own, variant
        assert total in (None, len(ids)), variant


def _served(world: World, route: Route, entry: Entry, case: Case, request: Request, secrets: frozenset[str]) -> None:
    key = world.callers[case]
    if entry.target is Target.AGENTS:
        # A list of no tenant's data: the same for every caller
        with writes_nothing(world, entry):
            reply, owners = send(world, request, key), send(world, request, world.owner)
        assert (reply.status, reply.body) == (200, owners.body)
        assert leaks(reply, secrets, request) == []
        return
    if entry.scope == "read":
        # Given a read-only key of the org (or any key of it, on the org's contexts)
        with writes_nothing(world, entry):
            reply = send(world, request, key)
        # Then the read is served as to the data's owner
        owners = send(world, request, world.owner)
        assert (reply.status, reply.body) == (200, owners.body)
        assert leaks(reply, world.key_secrets, request) == []
        if entry.target is Target.LIST:
            assert listed(reply)[0] == world.visible[case]
        return
    # A write on the org's context by a project key: served (contexts belong to the org); undone after
    assert entry.target is Target.CONTEXT and case is Case.OTHER_PROJECT, (route, case)
    context_key = {n: {"S": v} for n, v in store_keys.context_key(ORG, "business", world.context_id).items()}
    table = world.deployment.threads_table
    stored = clients.dynamodb().get_item(TableName=table, Key=context_key)["Item"]
    with writes_nothing(world, entry):
        reply = send(world, request, key)
        clients.dynamodb().put_item(TableName=table, Item=stored)
    assert reply.status == 200, reply.body
    assert leaks(reply, secrets, request) == []


def _own_context(
    world: World, route: Route, entry: Entry, case: Case, request: Request, secrets: frozenset[str]
) -> None:
    # Given another org's key, naming the victim's context id
    key = world.callers[case]
    with writes_nothing(world, entry):
        # When it PUTs a document there (then deletes it, to leave the world as it was)
        reply = send(world, request, key)
        removed = wiring.context_store().delete(OTHER_ORG, "business", world.context_id)

    # Then it created a context of its own org; the victim's was never touched (the table is as before)
    assert reply.status == 201, reply.body
    assert removed is not None and removed.org_id == OTHER_ORG
    assert leaks(reply, secrets, request) == []


def _own_webhook(
    world: World, route: Route, entry: Entry, case: Case, request: Request, secrets: frozenset[str]
) -> None:
    # Given another org's key
    key = world.callers[case]
    before = wiring.webhook_store().endpoints(ORG)
    with writes_nothing(world, entry):
        # When it registers an endpoint (then deletes it, to leave the world as it was)
        reply = send(world, request, key)
        removed = wiring.webhook_store().delete(OTHER_ORG, reply.json().get("id", ""))

    # Then it registered one of its own org; the victim's endpoints are as they were
    assert reply.status == 201, reply.body
    assert removed is not None and removed.org_id == OTHER_ORG
    assert wiring.webhook_store().endpoints(ORG) == before
    assert leaks(reply, secrets, request) == []


def _method_not_allowed(
    world: World, route: Route, entry: Entry, case: Case, request: Request, secrets: frozenset[str]
) -> None:
    # Given any valid key, on a method the path does not serve
    # When it is called, Then 405, the same as to the data's owner
    reply, owners = send(world, request, world.callers[case]), send(world, request, world.owner)
    assert (reply.status, reply.body) == (405, owners.body)
    assert leaks(reply, secrets, request) == []


_CHECKS = {
    Expect.UNAUTHORIZED: _unauthorized,
    Expect.FORBIDDEN: _forbidden,
    Expect.AS_ABSENT: _as_absent,
    Expect.OWN_LIST: _own_list,
    Expect.SERVED: _served,
    Expect.OWN_CONTEXT: _own_context,
    Expect.OWN_WEBHOOK: _own_webhook,
    Expect.METHOD_NOT_ALLOWED: _method_not_allowed,
}
