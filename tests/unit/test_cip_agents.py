"""The cip agents: each check's rules and edge cases, the decision rules, and the five agents
run in order over each sample business in events/businesses/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from threadline.models.workflow import AgentInput, AgentResult, PreviousStep
from threadline.workflow.agent_types import AGENT_TYPES, CIP_ORCHESTRATOR
from threadline.workflow.agents import UnknownAgentError, resolve_agent, run_agent
from threadline_agents.cip.address import (
    address_check,
    check_address,
    is_po_box,
    normalize_postal_code,
    normalize_state,
)
from threadline_agents.cip.record import business_record, decide, decision, normalize_entity_type, review_record
from threadline_agents.cip.tin import EIN_PREFIXES, check_ein, tin_check
from threadline_agents.cip.watchlist import (
    WatchlistError,
    builtin_watchlist,
    normalize_name,
    similarity,
    status_for,
    watchlist_screening,
)

BUSINESSES = Path(__file__).resolve().parents[2] / "events" / "businesses"
CHECKS = ("business_record", "tin_check", "address_check", "watchlist_screening")
NEVER_ISSUED = {"00", "07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70", "78", "79", "89", "96", "97"}


def load_business(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((BUSINESSES / f"{name}.json").read_text(encoding="utf-8"))
    return document


def clean_business(**changes: Any) -> dict[str, Any]:
    """The approvable sample business, with top-level fields replaced (``None`` removes one)."""
    business = load_business("clean")
    for key, value in changes.items():
        if value is None:
            business.pop(key, None)
        else:
            business[key] = value
    return business


def agent_input(
    context: dict[str, Any],
    step_name: str = "business_record",
    previous: dict[str, PreviousStep] | None = None,
    watchlist: dict[str, Any] | None = None,
) -> AgentInput:
    def load_context(context_type: str, context_id: str) -> dict[str, Any] | None:
        return watchlist if (context_type, context_id) == ("watchlist", "default") else None

    return AgentInput(
        thread_id="thr_1",
        org_id="org_1",
        step_name=step_name,
        context_type="business",
        context_id="biz_1",
        context=context,
        previous=previous or {},
        load_context=load_context,
    )


def completed(name: str, output: dict[str, Any], artifacts: list[dict[str, Any]] | None = None) -> PreviousStep:
    return PreviousStep(name=name, id=f"step_{name}", status="completed", artifacts=artifacts or [], output=output)


def run_workflow(business: dict[str, Any], watchlist: dict[str, Any] | None = None) -> dict[str, AgentResult]:
    """The cip_orchestrator's activity steps in order, each seeing the steps before it, as the workflow runs them."""
    results: dict[str, AgentResult] = {}
    previous: dict[str, PreviousStep] = {}
    for step in (s for s in CIP_ORCHESTRATOR.steps if s.type == "activity"):
        result = run_agent(step.agent, agent_input(business, step.name, dict(previous), watchlist))
        results[step.name] = result
        previous[step.name] = PreviousStep(
            name=step.name, id=f"step_{step.name}", status="completed", artifacts=result.artifacts, output=result.output
        )
    return results


def assert_artifacts_well_formed(result: AgentResult) -> None:
    assert result.artifacts
    for made in result.artifacts:
        assert isinstance(made["title"], str) and made["title"]
        assert isinstance(made["type"], str) and made["type"]
        assert isinstance(made["summary"], str) and made["summary"]
        assert 0.0 <= made["confidence"] <= 1.0
    json.dumps({"artifacts": result.artifacts, "output": result.output})  # stored as JSON: must serialise


# ----- the registry -------------------------------------------------------------------------------


def test_every_registered_agent_resolves() -> None:
    # Given the agents the registered agent types' activity steps ask for
    wanted = {step.agent for kind in AGENT_TYPES.values() for step in kind.steps if step.type == "activity"}

    # Then each resolves to its function in the agents package, and they are the cip ones
    assert {name: resolve_agent(name) for name in wanted} == {
        "cip.business_record": business_record,
        "cip.tin_check": tin_check,
        "cip.address_check": address_check,
        "cip.watchlist_screening": watchlist_screening,
        "cip.decision": decision,
    }


def test_a_name_no_step_uses_is_not_resolved_even_when_the_function_exists() -> None:
    # (normalize_entity_type is a function of the cip package, but no step runs it)
    with pytest.raises(UnknownAgentError):
        resolve_agent("cip.normalize_entity_type")


def test_an_unknown_agent_name_raises_a_lookup_error_naming_it() -> None:
    # When an unregistered agent is asked for
    with pytest.raises(UnknownAgentError) as raised:
        run_agent("cip.nonexistent", agent_input(clean_business()))

    # Then the error is a LookupError that names it and the registered ones
    assert isinstance(raised.value, LookupError)
    assert raised.value.name == "cip.nonexistent"
    assert "cip.nonexistent" in str(raised.value) and "cip.tin_check" in str(raised.value)


# ----- business_record ----------------------------------------------------------------------------


def test_a_complete_record_is_complete_with_full_confidence() -> None:
    # When the record of the clean sample is checked
    result = business_record(agent_input(clean_business()))

    # Then nothing is missing and the completeness is 1
    assert result.output == {"complete": True, "missing": [], "missing_recommended": [], "invalid": []}
    assert result.artifacts[0]["confidence"] == 1.0
    assert result.artifacts[0]["content"]["entity_type"] == "llc"
    assert_artifacts_well_formed(result)


@pytest.mark.parametrize("field", ["name", "tin", "entity_type", "address", "officers"])
def test_a_missing_required_field_makes_the_record_incomplete(field: str) -> None:
    # Given the clean sample without one required field
    result = business_record(agent_input(clean_business(**{field: None})))

    # Then the record is incomplete, that field is missing, and a required field costs 2/14
    assert result.output["complete"] is False
    assert result.output["missing"] == [field]
    assert result.artifacts[0]["confidence"] == round(12 / 14, 3)
    assert result.artifacts[0]["content"]["missing"] == [field]


@pytest.mark.parametrize(
    ("field", "blank"),
    [
        ("name", "   "),
        ("tin", ""),
        ("address", {}),
        ("address", {"line1": " ", "city": ""}),
        ("officers", []),
        ("officers", [{"title": "CEO"}, {"name": "  "}]),
        ("officers", "Dana Whitfield"),
    ],
)
def test_blank_values_count_as_missing(field: str, blank: Any) -> None:
    assert review_record(clean_business(**{field: blank}))["missing"] == [field]


def test_missing_recommended_fields_leave_the_record_complete() -> None:
    # Given a record with no formation data, website or phone
    business = clean_business(formation_date=None, formation_state=None, website=None, phone=None)

    # When it is checked
    result = business_record(agent_input(business))

    # Then it is complete, but each recommended field is listed and costs 1/14
    assert result.output["complete"] is True
    assert result.output["missing_recommended"] == ["formation_date", "formation_state", "website", "phone"]
    assert result.artifacts[0]["confidence"] == round(10 / 14, 3)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("entity_type", "spaceship"),
        ("formation_date", "03/01/2015"),
        ("formation_date", "2015-02-30"),
        ("formation_state", "XX"),
        ("website", "not a website"),
        ("phone", "555-0142"),
        ("phone", "+12"),
    ],
)
def test_unreadable_values_are_reported_and_earn_nothing(field: str, value: str) -> None:
    review = review_record(clean_business(**{field: value}))
    assert review["invalid"] == [field]
    assert review["missing"] == [] and review["complete"] is True
    assert review["completeness"] < 1.0


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        ("LLC", "llc"),
        ("Limited Liability Company", "llc"),
        ("Inc.", "corporation"),
        ("C-Corp", "corporation"),
        ("S Corp", "s_corporation"),
        ("sole proprietor", "sole_proprietorship"),
        ("Non-Profit", "nonprofit"),
        ("spaceship", None),
        ("", None),
    ],
)
def test_entity_types_are_read_as_written(written: str, normalized: str | None) -> None:
    assert normalize_entity_type(written) == normalized


@pytest.mark.parametrize(
    "phone", ["+1 302 555 0142", "(302) 555-0142", "302.555.0142", "1-302-555-0142", "+44 20 7946 0958"]
)
def test_phone_numbers_in_common_formats_are_readable(phone: str) -> None:
    assert review_record(clean_business(phone=phone))["invalid"] == []


# ----- tin_check ----------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["84-2917365", "842917365", "  84-2917365\n"])
def test_a_well_formed_ein_with_a_valid_prefix_is_valid(written: str) -> None:
    check = check_ein(written)
    assert check.valid is True and check.reason is None
    assert check.normalized == "84-2917365"
    assert check.assigned_by == ("Philadelphia", "Internet")


@pytest.mark.parametrize("written", [None, "", "   "])
def test_a_missing_tin_is_invalid_for_that_reason(written: str | None) -> None:
    check = check_ein(written)
    assert (check.valid, check.reason, check.normalized) == (False, "missing", None)


@pytest.mark.parametrize(
    "written",
    ["84 2917365", "84-291736", "84-29173650", "842-91-7365", "8-42917365", "84\u20132917365", "AB-CDEFGHI", 842917365],
)
def test_anything_but_nine_digits_as_xx_xxxxxxx_is_a_format_error(written: Any) -> None:
    check = check_ein(written)
    assert (check.valid, check.reason) == (False, "format")


@pytest.mark.parametrize("prefix", sorted(NEVER_ISSUED))
def test_a_prefix_the_irs_never_assigns_is_invalid(prefix: str) -> None:
    check = check_ein(f"{prefix}-4829173")
    assert (check.valid, check.reason, check.prefix) == (False, "invalid_prefix", prefix)


def test_every_other_prefix_is_valid_and_names_its_campus() -> None:
    # Given every two-digit prefix
    valid = {f"{n:02d}" for n in range(100)} - NEVER_ISSUED

    # Then exactly the IRS-assigned ones are known, each with at least one campus
    assert set(EIN_PREFIXES) == valid
    for prefix in sorted(valid):
        check = check_ein(f"{prefix}-4829173")
        assert check.valid is True, prefix
        assert check.assigned_by == EIN_PREFIXES[prefix] and check.assigned_by
    assert EIN_PREFIXES["10"] == ("Andover",)
    assert EIN_PREFIXES["31"] == ("Small Business Administration",)
    assert EIN_PREFIXES["46"] == ("Philadelphia", "Internet")


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("11-1111111", "repeated_digits"),
        ("99-9999999", "repeated_digits"),
        ("00-0000000", "repeated_digits"),
        ("12-3456789", "placeholder"),
        ("98-7654321", "placeholder"),
        ("01-2345678", "placeholder"),
        ("23-4567890", "placeholder"),
        ("12-1212121", "placeholder"),
        ("12-3123123", "placeholder"),
    ],
)
def test_repeated_digits_and_placeholders_are_invalid(written: str, reason: str) -> None:
    assert (check_ein(written).valid, check_ein(written).reason) == (False, reason)


def test_tin_check_reports_the_reason_and_the_normalized_tin() -> None:
    # When the agent checks a business with a never-issued prefix
    result = tin_check(agent_input(clean_business(tin="07-4829173"), "tin_check"))

    # Then the output carries the reason and the normalized form; the artifact explains it
    assert result.output == {"valid": False, "reason": "invalid_prefix", "normalized": "07-4829173"}
    assert result.artifacts[0]["type"] == "tin_check"
    assert result.artifacts[0]["confidence"] == 1.0
    assert "prefix" in result.artifacts[0]["summary"]
    assert_artifacts_well_formed(result)


def test_tin_check_of_a_business_without_a_tin() -> None:
    result = tin_check(agent_input(clean_business(tin=None), "tin_check"))
    assert result.output == {"valid": False, "reason": "missing", "normalized": None}


# ----- address_check ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line1", "line2", "expected"),
    [
        ("1200 North Market Street", "Suite 300", ("1200 N MARKET ST", "STE 300")),
        ("100 north street", None, ("100 NORTH ST", None)),
        ("55 Main St. N.W.", None, ("55 MAIN ST NW", None)),
        ("55 Main Street Northwest", None, ("55 MAIN ST NW", None)),
        ("742 Evergreen Terrace, Apartment 2B", None, ("742 EVERGREEN TER", "APT 2B")),
        ("350 Fifth Avenue #4500", None, ("350 FIFTH AVE", "# 4500")),
        ("500   Fifth\tAvenue ", "Building 5, Floor 2", ("500 FIFTH AVE", "BLDG 5 FL 2")),
        ("1 Lake Front Drive", None, ("1 LAKE FRONT DR", None)),
        ("100 Avenue of the Americas", None, ("100 AVENUE OF THE AMERICAS", None)),
        ("12 Élan Boulevard", "suite 7", ("12 ELAN BLVD", "STE 7")),
        ("9 South West Parkway", None, ("9 S WEST PKWY", None)),
    ],
)
def test_street_lines_are_normalized_the_usps_way(line1: str, line2: str | None, expected: tuple[Any, ...]) -> None:
    address = {"line1": line1, "line2": line2, "city": "Wilmington", "state": "DE", "postal_code": "19801"}
    normalized = check_address(address).normalized
    assert (normalized["line1"], normalized["line2"]) == expected


def test_a_complete_address_is_valid_and_normalized() -> None:
    # When the clean sample's address is checked
    result = address_check(agent_input(clean_business(), "address_check"))

    # Then it is valid and every component is normalized
    assert result.output == {
        "valid": True,
        "complete": True,
        "normalized": {
            "line1": "1200 N MARKET ST",
            "line2": "STE 300",
            "city": "WILMINGTON",
            "state": "DE",
            "postal_code": "19801-1042",
            "country": "US",
        },
        "issues": [],
    }
    assert result.artifacts[0]["content"]["single_line"] == "1200 N MARKET ST STE 300, WILMINGTON, DE 19801-1042"
    assert_artifacts_well_formed(result)


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("Delaware", "DE"),
        ("new  york", "NY"),
        ("District of Columbia", "DC"),
        ("Washington, D.C.", "DC"),
        ("Puerto Rico", "PR"),
        ("Guam", "GU"),
        ("AE", "AE"),
        ("ZZ", None),
        ("Europe", None),
        ("", None),
    ],
)
def test_states_are_read_as_codes_or_full_names(written: str, code: str | None) -> None:
    assert normalize_state(written) == code


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        ("19801", "19801"),
        (" 19801-1042 ", "19801-1042"),
        ("198011042", "19801-1042"),
        (2139, "02139"),
        ("1980", None),
        ("19801-10", None),
        ("ABCDE", None),
        ("19801 1042", None),
    ],
)
def test_zip_and_zip_plus_4(written: Any, normalized: str | None) -> None:
    assert normalize_postal_code(written) == normalized


@pytest.mark.parametrize(
    "line",
    ["PO Box 4410", "P.O. Box 12", "p o box 7", "POBOX 9", "Post Office Box 3", "POB 88", "Box 12", "PMB 204"],
)
def test_po_boxes_and_private_mailboxes_are_flagged(line: str) -> None:
    assert is_po_box(line) is True
    address = {"line1": "1 Main St", "line2": line, "city": "Austin", "state": "TX", "postal_code": "78701"}
    check = check_address(address)
    assert check.issues == ["po_box"] and check.complete and not check.valid


@pytest.mark.parametrize("line", ["123 Box Elder Road", "44 Boxwood Lane", "7 Post Office Square", "9 Lockbox Way"])
def test_street_names_that_merely_mention_a_box_are_not_po_boxes(line: str) -> None:
    assert is_po_box(line) is False


@pytest.mark.parametrize(
    ("state", "postal_code", "issues"),
    [
        ("NY", "10005", []),
        ("NY", "90210", ["state_postal_mismatch"]),
        ("CA", "10005", ["state_postal_mismatch"]),
        ("NY", "00501", []),  # Holtsville, NY: a 0-area ZIP outside New England
        ("TX", "88510", []),  # El Paso, TX: an 8-area ZIP
        ("PR", "00901", []),
        ("ZZ", "10005", ["invalid_state"]),
        ("NY", "1000", ["invalid_postal_code"]),
    ],
)
def test_the_zip_must_belong_to_the_state(state: str, postal_code: str, issues: list[str]) -> None:
    address = {"line1": "88 Pine Street", "city": "New York", "state": state, "postal_code": postal_code}
    assert check_address(address).issues == issues


def test_missing_components_make_the_address_incomplete() -> None:
    # Given an address with only a PO box and a state
    check = check_address({"line1": "PO Box 4410", "state": "TX"})

    # Then each missing component is an issue, and so is the PO box
    assert check.issues == ["missing_city", "missing_postal_code", "po_box"]
    assert check.complete is False and check.valid is False


@pytest.mark.parametrize("address", [None, "1 Main St, Austin TX", [], 42])
def test_no_address_object_is_a_missing_address(address: Any) -> None:
    check = check_address(address)
    assert check.issues == ["missing_address"] and not check.complete


def test_a_foreign_address_is_flagged_but_complete_without_a_state() -> None:
    check = check_address({"line1": "12 Rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "France"})
    assert check.issues == ["unsupported_country"]
    assert check.complete is True
    assert check.normalized["country"] == "FRANCE"


@pytest.mark.parametrize("country", [None, "US", "usa", "United States", "United States of America", "U.S.A."])
def test_us_spellings_of_the_country_are_the_us(country: str | None) -> None:
    address = {"line1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701", "country": country}
    check = check_address(address)
    assert check.issues == [] and check.normalized["country"] == "US"


# ----- watchlist screening ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "entity", "tokens"),
    [
        ("Blackwater Shell Holdings, L.L.C.", True, ("blackwater", "shell", "holdings")),
        ("The Acme Co.", True, ("acme",)),
        ("Smith & Co", True, ("smith",)),
        ("Acme Trading Company, Inc.", True, ("acme", "trading")),
        ("Nordwind Phantom Logistik GmbH", True, ("nordwind", "phantom", "logistik")),
        ("Company", True, ("company",)),  # never stripped to nothing
        ("Zoltán Fiktív Kovács", False, ("zoltan", "fiktiv", "kovacs")),
        ("Søren Ødegård", False, ("soren", "odegard")),
        ("Seán O'Brien", False, ("sean", "obrien")),
        ("Anna Sa", False, ("anna", "sa")),  # a person's surname is not a legal form
        ("Anna Sa", True, ("anna",)),
    ],
)
def test_names_are_normalized_to_comparable_tokens(written: str, entity: bool, tokens: tuple[str, ...]) -> None:
    assert normalize_name(written, entity=entity) == tokens


@pytest.mark.parametrize(
    ("screened", "listed", "entity", "status"),
    [
        ("Blackwater Shell Holdings LLC", "Blackwater Shell Holdings", True, "match"),  # legal form
        ("Shell Blackwater Holdings", "Blackwater Shell Holdings", True, "match"),  # word order
        ("Black Water Shell Holdings", "Blackwater Shell Holdings", True, "match"),  # spacing
        ("Zoltan Fiktiv Kovacs", "Zoltán Fiktív Kovács", False, "match"),  # diacritics
        ("Kovács Zoltán Fiktív", "Zoltán Fiktív Kovács", False, "match"),  # surname first
        ("Ivan Fictitious Petrof", "Ivan Fictitious Petrov", False, "match"),  # one-letter misspelling
        ("Ivan Petrov", "Ivan Fictitious Petrov", False, "potential_match"),  # no middle name
        ("Ivan F. Petrov", "Ivan Fictitious Petrov", False, "potential_match"),  # middle initial
        ("Crimson Lotus Traders", "Crimson Lotus Trading Company", True, "potential_match"),
        ("Shell Holdings", "Blackwater Shell Holdings", True, "potential_match"),
        ("Global Holdings", "Blackwater Shell Holdings", True, "clear"),  # only a generic word shared
        ("Acme Holdings", "Acme Group", True, "clear"),  # descriptive words are not dropped
        ("John Petrov", "Ivan Petrov", False, "clear"),
        ("Maple Ridge Bakery", "Oceanic Mirage Shipping", True, "clear"),
    ],
)
def test_fuzzy_name_matching(screened: str, listed: str, entity: bool, status: str) -> None:
    score = similarity(normalize_name(screened, entity), normalize_name(listed, entity))
    assert status_for(score) == status, score


def test_similarity_is_symmetric_and_one_for_the_same_words() -> None:
    a, b = normalize_name("Ivan Petrov", False), normalize_name("Ivan Fictitious Petrov", False)
    assert similarity(a, b) == similarity(b, a) == pytest.approx(0.8)
    assert similarity(a, a) == 1.0
    assert similarity((), a) == 0.0


@pytest.mark.parametrize(
    ("score", "status"), [(1.0, "match"), (0.88, "match"), (0.8799, "potential_match"), (0.75, "potential_match")]
)
def test_thresholds(score: float, status: str) -> None:
    assert status_for(score) == status
    assert status_for(0.7499) == "clear"


def test_the_built_in_watchlist_is_used_when_the_org_has_none() -> None:
    # Given a business whose officer shares a listed person's first and last names, and no operator list
    business = clean_business(officers=[{"name": "Ivan Petrov", "title": "CFO"}])

    # When it is screened
    result = watchlist_screening(agent_input(business, "watchlist_screening", watchlist=None))

    # Then the built-in sample list flags a potential match, with one artifact for the hit
    assert result.output == {"hits": 1, "max_score": 0.8, "status": "potential_match"}
    summary, hit = result.artifacts
    assert summary["content"]["watchlist"]["origin"] == "built-in sample"
    assert summary["content"]["watchlist"]["entries"] == len(builtin_watchlist())
    assert hit["type"] == "watchlist_hit"
    assert hit["content"]["screened_name"] == "Ivan Petrov"
    assert hit["content"]["screened_role"] == "officer"
    assert hit["content"]["matched_name"] == "Ivan Fictitious Petrov"
    assert hit["sources"] == ["OFAC SDN (fictional sample)"]
    assert hit["confidence"] == 0.8
    assert_artifacts_well_formed(result)


def test_an_operator_watchlist_replaces_the_built_in_one() -> None:
    # Given an operator list naming the clean sample's officer (and not the built-in entries)
    watchlist = {
        "entries": [
            {
                "name": "Dana Whitfeld",
                "type": "individual",
                "list": "Internal deny list",
                "aliases": [],
                "id": "deny-7",
            }
        ]
    }
    business = clean_business(officers=[{"name": "Dana Whitfield"}, {"name": "Ivan Petrov"}])

    # When the business is screened
    result = watchlist_screening(agent_input(business, "watchlist_screening", watchlist=watchlist))

    # Then only the operator's entry is screened: a misspelt match, carrying the entry's own fields
    assert result.output["status"] == "match" and result.output["hits"] == 1
    assert result.artifacts[0]["content"]["watchlist"] == {
        "origin": "operator",
        "entries": 1,
        "lists": ["Internal deny list"],
    }
    assert result.artifacts[0]["sources"] == ["watchlist/default"]
    assert result.artifacts[1]["content"]["entry"]["id"] == "deny-7"


def test_aliases_are_screened_and_the_best_one_reported() -> None:
    watchlist = {"entries": [{"name": "Northwind Rising Partners", "aliases": ["NRP Capital"], "list": "X"}]}
    result = watchlist_screening(agent_input(clean_business(dba="NRP Capital LLC"), watchlist=watchlist))
    assert result.output["status"] == "match"
    assert result.artifacts[1]["content"]["matched_name"] == "NRP Capital"
    assert result.artifacts[1]["content"]["screened_role"] == "dba"


def test_an_empty_operator_watchlist_clears_everyone() -> None:
    result = watchlist_screening(agent_input(load_business("sanctioned"), watchlist={"entries": []}))
    assert result.output == {"hits": 0, "max_score": 0.0, "status": "clear"}
    assert result.artifacts[0]["confidence"] == 1.0


@pytest.mark.parametrize(
    "watchlist",
    [
        {"names": ["Blackwater"]},
        {"entries": "Blackwater"},
        {"entries": [{"type": "entity"}]},
        {"entries": [{"name": "  "}]},
        {"entries": [{"name": "Blackwater", "type": "vessel"}]},
        {"entries": [{"name": "Blackwater", "aliases": "BWS"}]},
        {"entries": [{"name": "Blackwater", "list": ["OFAC"]}]},
    ],
)
def test_a_malformed_operator_watchlist_fails_the_step(watchlist: dict[str, Any]) -> None:
    with pytest.raises(WatchlistError):
        watchlist_screening(agent_input(clean_business(), watchlist=watchlist))


def test_the_watchlist_is_loaded_as_the_orgs_default_watchlist_context() -> None:
    asked: list[tuple[str, str]] = []

    def load_context(context_type: str, context_id: str) -> dict[str, Any] | None:
        asked.append((context_type, context_id))
        return None

    base = agent_input(clean_business())
    watchlist_screening(
        AgentInput(
            thread_id=base.thread_id,
            org_id=base.org_id,
            step_name="watchlist_screening",
            context_type="business",
            context_id="biz_1",
            context=base.context,
            load_context=load_context,
        )
    )
    assert asked == [("watchlist", "default")]


def test_the_built_in_watchlist_is_fictional_and_well_formed() -> None:
    entries = builtin_watchlist()
    assert len(entries) >= 5
    assert {entry.type for entry in entries} == {"entity", "individual"}
    assert all("fictional" in entry.list for entry in entries)


# ----- decision -----------------------------------------------------------------------------------

PASSING: dict[str, dict[str, Any]] = {
    "business_record": {"complete": True, "missing": [], "missing_recommended": [], "invalid": []},
    "tin_check": {"valid": True, "reason": None, "normalized": "84-2917365"},
    "address_check": {"valid": True, "complete": True, "normalized": {}, "issues": []},
    "watchlist_screening": {"hits": 0, "max_score": 0.2, "status": "clear"},
}


def checks(**changes: dict[str, Any]) -> dict[str, PreviousStep]:
    """The four checks as completed steps, all passing unless their output is changed."""
    return {name: completed(name, {**PASSING[name], **changes.get(name, {})}) for name in CHECKS}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ("approve", False)),
        ({"watchlist_screening": {"status": "potential_match", "hits": 1}}, ("review", False)),
        ({"watchlist_screening": {"status": "match", "hits": 1}}, ("review", True)),
        ({"business_record": {"missing_recommended": ["website"]}}, ("review", False)),
        ({"business_record": {"invalid": ["formation_date"]}}, ("review", False)),
        ({"address_check": {"valid": False, "issues": ["po_box"]}}, ("review", False)),
        ({"address_check": {"valid": False, "issues": ["state_postal_mismatch"]}}, ("review", False)),
        ({"address_check": {"valid": False, "issues": ["unsupported_country"]}}, ("review", False)),
        ({"address_check": {"valid": False, "complete": False, "issues": ["missing_city"]}}, ("reject", False)),
        ({"address_check": {"valid": False, "complete": False, "issues": ["missing_address"]}}, ("reject", False)),
        ({"tin_check": {"valid": False, "reason": "invalid_prefix"}}, ("reject", False)),
        ({"tin_check": {"valid": False, "reason": "placeholder"}}, ("reject", False)),
        ({"business_record": {"complete": False, "missing": ["officers"]}}, ("reject", False)),
        # A rejection outranks a review...
        (
            {"tin_check": {"valid": False, "reason": "missing"}, "watchlist_screening": {"status": "potential_match"}},
            ("reject", False),
        ),
        # ...but a watchlist match always reaches compliance, even with data missing.
        (
            {"tin_check": {"valid": False, "reason": "missing"}, "watchlist_screening": {"status": "match"}},
            ("review", True),
        ),
    ],
)
def test_decision_rules(changes: dict[str, dict[str, Any]], expected: tuple[str, bool]) -> None:
    verdict, escalate, _ = decide(checks(**changes))
    assert (verdict, escalate) == expected


@pytest.mark.parametrize("status", ["failed", "cancelled", None])
def test_a_check_that_did_not_complete_sends_the_thread_to_review(status: str | None) -> None:
    # Given the four checks, one of which failed or never ran
    previous = checks()
    if status is None:
        del previous["tin_check"]
    else:
        previous["tin_check"] = PreviousStep("tin_check", "step_tin_check", status, [], {})

    # When the decision is made
    verdict, escalate, reasons = decide(previous)

    # Then a person decides, and the reason names the check
    assert (verdict, escalate) == ("review", False)
    assert {"step": "tin_check", "code": "check_not_completed"}.items() <= reasons[1].items()


def test_the_decision_artifact_cites_every_check_and_explains_itself() -> None:
    # Given the checks, with a missing TIN
    previous = checks(tin_check={"valid": False, "reason": "missing", "normalized": None})

    # When the decision agent runs
    result = decision(agent_input(clean_business(), "decision", previous))

    # Then it rejects with full confidence, citing each check by name and id
    assert result.output == {"decision": "reject", "escalate": False}
    (made,) = result.artifacts
    assert made["title"] == "CIP decision" and made["type"] == "decision"
    assert made["confidence"] == 1.0
    assert made["content"]["decision"] == "reject"
    assert made["content"]["cited_steps"] == [{"name": name, "id": f"step_{name}"} for name in CHECKS]
    assert made["sources"] == [f"step_{name}" for name in CHECKS]
    tin_reason = next(r for r in made["content"]["reasons"] if r["step"] == "tin_check")
    assert tin_reason == {
        "step": "tin_check",
        "code": "tin_missing",
        "effect": "reject",
        "message": "No TIN was given.",
    }
    assert made["summary"] == "Reject: No TIN was given."
    assert_artifacts_well_formed(result)


def test_an_approval_is_as_confident_as_its_weakest_check() -> None:
    previous = {
        name: completed(name, PASSING[name], [{"title": name, "type": name, "confidence": confidence}])
        for name, confidence in zip(CHECKS, (1.0, 0.8, 0.7, 0.95), strict=True)
    }
    result = decision(agent_input(clean_business(), "decision", previous))
    assert result.output["decision"] == "approve"
    assert result.artifacts[0]["confidence"] == 0.7


# ----- the sample businesses, end to end ----------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("clean", {"decision": "approve", "escalate": False}),
        ("suspicious", {"decision": "review", "escalate": False, "proposed": "approve"}),
        ("incomplete", {"decision": "reject", "escalate": False}),
        ("sanctioned", {"decision": "review", "escalate": True, "proposed": "reject"}),
    ],
)
def test_each_sample_business_gets_its_decision(sample: str, expected: dict[str, Any]) -> None:
    # When the five agents run in order over the sample, with no operator watchlist
    results = run_workflow(load_business(sample))

    # Then the decision is the expected one, and every artifact is well formed
    assert results["decision"].output == expected
    for result in results.values():
        assert_artifacts_well_formed(result)


def test_the_clean_sample_passes_every_check() -> None:
    results = run_workflow(load_business("clean"))
    assert results["business_record"].output["complete"] is True
    assert results["tin_check"].output["valid"] is True
    assert results["address_check"].output["valid"] is True
    assert results["watchlist_screening"].output["status"] == "clear"
    assert results["decision"].artifacts[0]["confidence"] == 0.8


def test_the_suspicious_sample_is_a_potential_match_on_an_officer() -> None:
    results = run_workflow(load_business("suspicious"))
    assert results["watchlist_screening"].output == {"hits": 1, "max_score": 0.8, "status": "potential_match"}
    reasons = results["decision"].artifacts[0]["content"]["reasons"]
    assert [r["code"] for r in reasons if r["effect"] != "pass"] == ["watchlist_potential_match"]
    assert "Ivan Petrov" in results["decision"].artifacts[0]["summary"]


def test_the_incomplete_sample_is_rejected_for_its_tin_and_address() -> None:
    results = run_workflow(load_business("incomplete"))
    assert results["business_record"].output["missing"] == ["tin"]
    assert results["tin_check"].output["reason"] == "missing"
    assert results["address_check"].output["issues"] == ["missing_city", "missing_postal_code", "po_box"]
    rejections = [r["code"] for r in results["decision"].artifacts[0]["content"]["reasons"] if r["effect"] == "reject"]
    assert rejections == ["missing_required", "tin_missing", "address_incomplete"]


def test_the_sanctioned_sample_matches_by_name_and_dba() -> None:
    results = run_workflow(load_business("sanctioned"))
    assert results["watchlist_screening"].output == {"hits": 2, "max_score": 1.0, "status": "match"}
    roles = sorted(a["content"]["screened_role"] for a in results["watchlist_screening"].artifacts[1:])
    assert roles == ["dba", "name"]


def test_an_operator_watchlist_changes_the_outcome() -> None:
    # Given an operator list that does not carry the built-in sample's entries
    watchlist = {"entries": [{"name": "Someone Else Entirely", "type": "individual", "list": "Internal"}]}

    # Then the sanctioned sample, clear of that list, is approved
    assert run_workflow(load_business("sanctioned"), watchlist)["decision"].output["decision"] == "approve"


def test_the_agents_are_deterministic() -> None:
    for sample in ("clean", "suspicious", "incomplete", "sanctioned"):
        first, second = run_workflow(load_business(sample)), run_workflow(load_business(sample))
        assert {k: (v.artifacts, v.output) for k, v in first.items()} == {
            k: (v.artifacts, v.output) for k, v in second.items()
        }
