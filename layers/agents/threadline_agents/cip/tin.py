"""``cip.tin_check``: is the business's TIN a plausible Employer Identification Number?

The rules are the ones that need no call to the IRS:

* format: nine digits, written ``XX-XXXXXXX`` or as nine plain digits (surrounding
  whitespace is ignored; any other separator or length is a format error);
* prefix: the first two digits must be a prefix the IRS assigns (``EIN_PREFIXES``, the
  IRS table "How EINs are assigned and valid EIN prefixes"); 00, 07-09, 17-19, 28, 29,
  49, 69, 70, 78, 79, 89, 96 and 97 are never issued;
* not one digit repeated (``11-1111111``) and not a placeholder: an ascending or
  descending run of digits (``12-3456789``, ``98-7654321``) or a known test pattern.

A TIN that passes is *plausible*, not verified: only IRS TIN matching can say it was
issued to this name, hence a confidence below 1 for "valid".
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from threadline.models.workflow import AgentInput, AgentResult

from threadline_agents.cip.common import artifact, text

_CAMPUS_PREFIXES: dict[str, tuple[str, ...]] = {
    "Andover": ("10", "12"),
    "Atlanta": ("60", "67"),
    "Austin": ("50", "53"),
    "Brookhaven": (
        "01", "02", "03", "04", "05", "06", "11", "13", "14", "16", "21", "22", "23", "25", "34",
        "51", "52", "54", "55", "56", "57", "58", "59", "65",
    ),
    "Cincinnati": ("30", "32", "35", "36", "37", "38", "61"),
    "Fresno": ("15", "24"),
    "Kansas City": ("40", "44"),
    "Memphis": ("94", "95"),
    "Ogden": ("80", "90"),
    "Philadelphia": (
        "33", "39", "41", "42", "43", "46", "48", "62", "63", "64", "66", "68", "71", "72", "73",
        "74", "75", "76", "77", "81", "82", "83", "84", "85", "86", "87", "88", "91", "92", "93",
        "98", "99",
    ),
    "Internet": ("20", "26", "27", "45", "46", "47", "81", "82", "83", "84", "85", "86", "87", "88"),
    "Small Business Administration": ("31",),
}  # fmt: skip

EIN_PREFIXES: dict[str, tuple[str, ...]] = {
    prefix: tuple(campus for campus, prefixes in _CAMPUS_PREFIXES.items() if prefix in prefixes)
    for prefix in sorted({prefix for prefixes in _CAMPUS_PREFIXES.values() for prefix in prefixes})
}
"""Each valid EIN prefix and the IRS campuses (or channels) that assign it."""

# Patterns that are not runs or repeats but show up as fillers in forms and test data.
PLACEHOLDER_EINS = frozenset({"121212121", "123123123", "123454321", "101010101", "010101010"})

_EIN = re.compile(r"(\d{2})-?(\d{7})")

REASONS = {
    "missing": "No TIN was given.",
    "format": "A TIN must be nine digits, written XX-XXXXXXX or as nine plain digits.",
    "repeated_digits": "The TIN is one digit repeated.",
    "placeholder": "The TIN is a placeholder or test number, not an issued EIN.",
    "invalid_prefix": "The IRS assigns no EIN with this prefix.",
}


@dataclass(frozen=True)
class TinCheck:
    """The outcome of :func:`check_ein`. ``reason`` is ``None`` for a valid EIN, else a key of ``REASONS``."""

    valid: bool
    reason: str | None
    normalized: str | None = None
    prefix: str | None = None
    assigned_by: tuple[str, ...] = ()


def _is_run(digits: str) -> bool:
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(digits)}
    return steps in ({1}, {9})


def check_ein(value: Any) -> TinCheck:
    """Check one TIN value (any JSON value) against the EIN rules above."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return TinCheck(valid=False, reason="missing")
    raw = text(value) if isinstance(value, str) else None
    found = _EIN.fullmatch(raw) if raw is not None else None
    if found is None:
        return TinCheck(valid=False, reason="format")
    digits = found.group(1) + found.group(2)
    normalized = f"{found.group(1)}-{found.group(2)}"
    prefix = found.group(1)
    if len(set(digits)) == 1:
        return TinCheck(valid=False, reason="repeated_digits", normalized=normalized, prefix=prefix)
    if _is_run(digits) or digits in PLACEHOLDER_EINS:
        return TinCheck(valid=False, reason="placeholder", normalized=normalized, prefix=prefix)
    if prefix not in EIN_PREFIXES:
        return TinCheck(valid=False, reason="invalid_prefix", normalized=normalized, prefix=prefix)
    return TinCheck(valid=True, reason=None, normalized=normalized, prefix=prefix, assigned_by=EIN_PREFIXES[prefix])


def tin_check(agent_input: AgentInput) -> AgentResult:
    """Check the business's ``tin``: output ``{"valid", "reason", "normalized"}``."""
    check = check_ein(agent_input.context.get("tin"))
    content = {
        "valid": check.valid,
        "reason": check.reason,
        "normalized": check.normalized,
        "prefix": check.prefix,
        "assigned_by": list(check.assigned_by),
    }
    if check.valid:
        summary = f"{check.normalized} is a well-formed EIN with a valid prefix ({', '.join(check.assigned_by)})."
        # Plausible, not verified: IRS TIN matching is the only proof of issuance.
        confidence = 0.8
    else:
        summary = REASONS[check.reason or "format"]
        confidence = 1.0
    result = artifact("TIN check", "tin_check", summary, confidence, content)
    return AgentResult(
        artifacts=[result],
        output={"valid": check.valid, "reason": check.reason, "normalized": check.normalized},
    )
