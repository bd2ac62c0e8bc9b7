"""The agents of ``cip_orchestrator``: customer identification (CIP) for a business.

Every agent reads the thread's context document, a *business*, stored with
``PUT /v1/contexts/business/{id}``. Its schema (unknown keys are ignored)::

    {
      "name": "Maple Ridge Bakery LLC",        # required: legal name
      "dba": "Maple Ridge Bakes",              # optional: trade name ("doing business as")
      "tin": "84-2917365",                     # required: EIN, XX-XXXXXXX or nine digits
      "entity_type": "llc",                    # required: one of ENTITY_TYPES (aliases such as
                                               #   "Limited Liability Company" or "Inc" are read)
      "formation_date": "2015-03-01",          # recommended: ISO date
      "formation_state": "DE",                 # recommended: USPS code or full state name
      "address": {                             # required: physical address, not a PO box
        "line1": "1200 North Market Street",   #   required
        "line2": "Suite 300",                  #   optional
        "city": "Wilmington",                  #   required
        "state": "DE",                         #   required: USPS code or full name
        "postal_code": "19801",                #   required: ZIP or ZIP+4
        "country": "US"                        #   optional, default US; others are flagged
      },
      "officers": [                            # required: at least one with a name
        {"name": "Dana Whitfield", "title": "Managing Member"}
      ],
      "website": "https://mapleridgebakery.example",   # recommended
      "phone": "+1 302 555 0142"                       # recommended: 10 US digits or E.164
    }

The five agents, in the order ``cip_orchestrator`` runs them:

* ``cip.business_record`` (here): required and recommended fields present and readable;
* ``cip.tin_check`` (:mod:`.tin`), ``cip.address_check`` (:mod:`.address`) and
  ``cip.watchlist_screening`` (:mod:`.watchlist`), in parallel;
* ``cip.decision`` (here): approve, review or reject from the four checks' outputs.

Everything is deterministic: no clock, no randomness, no network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from threadline.models.workflow import AgentInput, AgentResult, PreviousStep

from threadline_agents.cip.address import INCOMPLETE_ISSUES as ADDRESS_INCOMPLETE
from threadline_agents.cip.address import ISSUES as ADDRESS_ISSUES
from threadline_agents.cip.address import normalize_state
from threadline_agents.cip.common import artifact, text
from threadline_agents.cip.tin import REASONS as TIN_REASONS

REQUIRED_FIELDS = ("name", "tin", "entity_type", "address", "officers")
RECOMMENDED_FIELDS = ("formation_date", "formation_state", "website", "phone")
_WEIGHTS = {**dict.fromkeys(REQUIRED_FIELDS, 2), **dict.fromkeys(RECOMMENDED_FIELDS, 1)}

ENTITY_TYPES = frozenset(
    {
        "llc", "corporation", "s_corporation", "partnership", "limited_partnership", "llp",
        "sole_proprietorship", "nonprofit", "trust", "cooperative", "government", "other",
    }
)  # fmt: skip
_ENTITY_ALIASES = {
    "limited_liability_company": "llc",
    "l_l_c": "llc",
    "corp": "corporation",
    "inc": "corporation",
    "incorporated": "corporation",
    "c_corporation": "corporation",
    "c_corp": "corporation",
    "s_corp": "s_corporation",
    "general_partnership": "partnership",
    "lp": "limited_partnership",
    "limited_liability_partnership": "llp",
    "sole_proprietor": "sole_proprietorship",
    "sole_prop": "sole_proprietorship",
    "non_profit": "nonprofit",
    "not_for_profit": "nonprofit",
    "co_op": "cooperative",
}
_WEBSITE = re.compile(r"(?:https?://)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?::\d+)?(?:/\S*)?", re.I)
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


def normalize_entity_type(value: Any) -> str | None:
    """One of ``ENTITY_TYPES`` from the type as written ("Limited Liability Company" → ``llc``), else ``None``."""
    raw = text(value)
    if raw is None:
        return None
    key = re.sub(r"[^a-z0-9]+", "_", raw.casefold().replace(".", "")).strip("_")
    key = _ENTITY_ALIASES.get(key, key)
    return key if key in ENTITY_TYPES else None


def _is_iso_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None


def _is_phone(value: str) -> bool:
    digits = _PHONE_PUNCTUATION.sub("", value)
    if digits.startswith("+"):
        return digits[1:].isdigit() and 8 <= len(digits) - 1 <= 15  # E.164
    if digits.startswith("1") and len(digits) == 11:
        digits = digits[1:]
    return digits.isdigit() and len(digits) == 10


_READABLE: dict[str, Callable[[str], bool]] = {
    "entity_type": lambda raw: normalize_entity_type(raw) is not None,
    "formation_date": _is_iso_date,
    "formation_state": lambda raw: normalize_state(raw) is not None,
    "website": lambda raw: _WEBSITE.fullmatch(raw) is not None,
    "phone": _is_phone,
}
"""How to tell a present field's value is usable, for the fields that have a format."""


def _has_named_officer(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(o, dict) and text(o.get("name")) for o in value)


def review_record(business: dict[str, Any]) -> dict[str, Any]:
    """Which fields of a business document are missing or unreadable, and its completeness (0..1).

    Required fields are weighted twice the recommended ones; a field that is present but
    unreadable (an unknown entity type, a date that is not ISO) earns nothing.
    """
    missing: list[str] = []
    missing_recommended: list[str] = []
    invalid: list[str] = []
    for name in (*REQUIRED_FIELDS, *RECOMMENDED_FIELDS):
        value = business.get(name)
        if name == "address":
            present, readable = isinstance(value, dict) and any(text(v) for v in value.values()), True
        elif name == "officers":
            present, readable = _has_named_officer(value), True
        else:
            raw = text(value)
            present = raw is not None
            readable = raw is None or name not in _READABLE or _READABLE[name](raw)
        if not present:
            (missing if name in REQUIRED_FIELDS else missing_recommended).append(name)
        elif not readable:
            invalid.append(name)
    earned = sum(weight for name, weight in _WEIGHTS.items() if name not in {*missing, *missing_recommended, *invalid})
    return {
        "complete": not missing,
        "completeness": round(earned / sum(_WEIGHTS.values()), 3),
        "missing": missing,
        "missing_recommended": missing_recommended,
        "invalid": invalid,
    }


def business_record(agent_input: AgentInput) -> AgentResult:
    """Check the record's completeness: output ``{"complete", "missing", "missing_recommended", "invalid"}``."""
    review = review_record(agent_input.context)
    findings = []
    if review["missing"]:
        findings.append(f"Missing required: {', '.join(review['missing'])}.")
    if review["missing_recommended"]:
        findings.append(f"Missing recommended: {', '.join(review['missing_recommended'])}.")
    if review["invalid"]:
        findings.append(f"Unreadable: {', '.join(review['invalid'])}.")
    summary = " ".join(findings) or "Every required and recommended field is present."
    name = text(agent_input.context.get("name"))
    content = {
        **review,
        "name": name,
        "entity_type": normalize_entity_type(agent_input.context.get("entity_type")),
        "required_fields": list(REQUIRED_FIELDS),
        "recommended_fields": list(RECOMMENDED_FIELDS),
    }
    return AgentResult(
        artifacts=[artifact("Business record", "business_record", summary, review["completeness"], content)],
        output={key: review[key] for key in ("complete", "missing", "missing_recommended", "invalid")},
    )


Effect = Literal["pass", "review", "reject", "escalate"]
CHECK_STEPS = ("business_record", "tin_check", "address_check", "watchlist_screening")
"""The steps ``cip.decision`` reads, by their names in ``cip_orchestrator``."""


def _reason(step: str, code: str, effect: Effect, message: str) -> dict[str, Any]:
    return {"step": step, "code": code, "effect": effect, "message": message}


def _record_reasons(step: PreviousStep) -> list[dict[str, Any]]:
    output = step.output
    reasons = []
    if output.get("missing") or output.get("complete") is not True:
        missing = ", ".join(output.get("missing") or []) or "unknown"
        reasons.append(_reason("business_record", "missing_required", "reject", f"Required fields missing: {missing}."))
    if output.get("missing_recommended"):
        fields = ", ".join(output["missing_recommended"])
        reasons.append(
            _reason("business_record", "missing_recommended", "review", f"Recommended fields missing: {fields}.")
        )
    if output.get("invalid"):
        fields = ", ".join(output["invalid"])
        reasons.append(_reason("business_record", "invalid_fields", "review", f"Fields not readable: {fields}."))
    return reasons or [_reason("business_record", "passed", "pass", "Every required and recommended field present.")]


def _tin_reasons(step: PreviousStep) -> list[dict[str, Any]]:
    output = step.output
    if output.get("valid") is True:
        return [_reason("tin_check", "passed", "pass", f"TIN {output.get('normalized')} is a plausible EIN.")]
    code = str(output.get("reason") or "format")
    return [_reason("tin_check", f"tin_{code}", "reject", TIN_REASONS.get(code, "The TIN is not valid."))]


def _address_reasons(step: PreviousStep) -> list[dict[str, Any]]:
    output = step.output
    issues = [str(issue) for issue in output.get("issues") or []]
    if output.get("valid") is True and not issues:
        return [_reason("address_check", "passed", "pass", "Complete US physical address.")]
    incomplete = [issue for issue in issues if issue in ADDRESS_INCOMPLETE]
    doubtful = [issue for issue in issues if issue not in ADDRESS_INCOMPLETE]
    reasons = []
    if incomplete or output.get("complete") is not True:
        message = " ".join(ADDRESS_ISSUES[issue] for issue in incomplete) or "The address is incomplete."
        reasons.append(_reason("address_check", "address_incomplete", "reject", message))
    if doubtful:
        message = " ".join(ADDRESS_ISSUES.get(issue, issue) for issue in doubtful)
        reasons.append(_reason("address_check", "address_issues", "review", message))
    return reasons


def _watchlist_reasons(step: PreviousStep) -> list[dict[str, Any]]:
    output = step.output
    status = output.get("status")
    if status == "clear":
        return [_reason("watchlist_screening", "passed", "pass", "No name resembles a watchlist entry.")]
    # Name the hits when the screening's artifacts carry them; the output alone has counts.
    hits = " ".join(str(a["summary"]) for a in step.artifacts if a.get("type") == "watchlist_hit" and a.get("summary"))
    if status == "potential_match":
        message = hits or f"{output.get('hits', 0)} potential watchlist match(es)."
        return [_reason("watchlist_screening", "watchlist_potential_match", "review", message)]
    message = f"Watchlist match; compliance must adjudicate it. {hits}".strip()
    return [_reason("watchlist_screening", "watchlist_match", "escalate", message)]


_READERS: dict[str, Callable[[PreviousStep], list[dict[str, Any]]]] = {
    "business_record": _record_reasons,
    "tin_check": _tin_reasons,
    "address_check": _address_reasons,
    "watchlist_screening": _watchlist_reasons,
}
"""How to read each check's result into reasons."""


def decide(previous: dict[str, PreviousStep]) -> tuple[str, bool, list[dict[str, Any]]]:
    """The decision (``approve``/``review``/``reject``), whether to escalate, and every reason.

    In order: a watchlist ``match`` → ``review`` with ``escalate`` (a name match is not an
    identity match: compliance adjudicates it, and must see it even when data is missing);
    else a required field missing, an invalid TIN or an incomplete address → ``reject``;
    else any other finding (a potential match, a recommended field missing or unreadable,
    an address issue such as a PO box, a check that did not complete) → ``review``;
    else ``approve``.
    """
    reasons: list[dict[str, Any]] = []
    for name in CHECK_STEPS:
        step = previous.get(name)
        if step is None or step.status != "completed":
            state = "did not run" if step is None else f"ended {step.status}"
            reasons.append(_reason(name, "check_not_completed", "review", f"The {name} step {state}."))
            continue
        reasons.extend(_READERS[name](step))
    effects = {reason["effect"] for reason in reasons}
    if "escalate" in effects:
        return "review", True, reasons
    if "reject" in effects:
        return "reject", False, reasons
    if "review" in effects:
        return "review", False, reasons
    return "approve", False, reasons


def _check_confidence(step: PreviousStep) -> float:
    values = [a["confidence"] for a in step.artifacts[:1] if isinstance(a.get("confidence"), int | float)]
    return float(values[0]) if values else 1.0


def decision(agent_input: AgentInput) -> AgentResult:
    """Decide from the four checks: output ``{"decision": "approve"|"review"|"reject", "escalate": bool}``,
    and for a review the decision proposed to the reviewer, ``proposed``: ``reject`` when it is
    escalated (a possible watchlist match), else ``approve`` (what is missing is not disqualifying).

    Confidence: ``reject`` 1 (it follows from definite failures), ``review`` 0.5 (a person
    decides), ``approve`` the lowest confidence of the four checks (as strong as its weakest).
    """
    previous = agent_input.previous
    verdict, escalate, reasons = decide(previous)
    cited = [{"name": name, "id": previous[name].id} for name in CHECK_STEPS if name in previous]
    if verdict == "approve":
        confidence = min(_check_confidence(previous[name]) for name in CHECK_STEPS)
        summary = "Approve: every check passed."
    else:
        decisive = "escalate" if escalate else "reject" if verdict == "reject" else "review"
        label = "Review, escalated to compliance" if escalate else verdict.capitalize()
        summary = f"{label}: " + " ".join(r["message"] for r in reasons if r["effect"] == decisive)
        confidence = 1.0 if verdict == "reject" else 0.5
    content = {"decision": verdict, "escalate": escalate, "reasons": reasons, "cited_steps": cited}
    result = artifact("CIP decision", "decision", summary, confidence, content, [step["id"] for step in cited])
    output: dict[str, Any] = {"decision": verdict, "escalate": escalate}
    if verdict == "review":
        output["proposed"] = "reject" if escalate else "approve"
    return AgentResult(artifacts=[result], output=output)
