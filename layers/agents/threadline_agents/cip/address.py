"""``cip.address_check``: is the business's address a complete US physical address?
And its USPS-style normalised form.

Checks, each an issue code in the output:

* ``missing_address``: no ``address`` object at all;
* ``missing_line1``, ``missing_city``, ``missing_state``, ``missing_postal_code``: a required
  component is absent or blank (the address is then *incomplete*);
* ``unsupported_country``: ``country`` is given and is not the United States (only US
  addresses are checked; ``country`` defaults to US);
* ``invalid_state``: not a USPS state, DC, territory or military code, nor its full name;
* ``invalid_postal_code``: not a ZIP (``12345``) or ZIP+4 (``12345-6789`` or nine digits);
* ``state_postal_mismatch``: the ZIP's first digit (its USPS national area) does not serve
  the state, e.g. a ``9xxxx`` ZIP in New York;
* ``po_box``: line 1 or 2 is a post office box or a private mailbox (PMB), which is not a
  business's physical address.

Normalisation follows USPS Publication 28 in the small: upper case, diacritics and
punctuation other than ``#``, ``-`` and ``/`` removed, whitespace collapsed, the street
suffix (Street → ST), pre- and post-directionals (North → N) and secondary unit designators
(Suite → STE) abbreviated, a unit found on line 1 moved to line 2, ZIP+4 written ``12345-6789``.
It is a rule-based approximation, not CASS certification: no address database is consulted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from threadline.models.workflow import AgentInput, AgentResult

from threadline_agents.cip.common import artifact, text

US_STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "DC": "District of Columbia",
    "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands", "PR": "Puerto Rico",
    "VI": "Virgin Islands", "FM": "Federated States of Micronesia", "MH": "Marshall Islands",
    "PW": "Palau",
    "AA": "Armed Forces Americas", "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific",
}  # fmt: skip
"""USPS codes of the states, DC, the territories and freely associated states, and the military 'states'."""

_STATE_NAMES = {name.upper(): code for code, name in US_STATES.items()} | {
    "WASHINGTON DC": "DC",
    "WASHINGTON D C": "DC",
    "US VIRGIN ISLANDS": "VI",
    "U S VIRGIN ISLANDS": "VI",
}

# The states each ZIP national area (first digit) serves, and the few 3-digit prefixes outside it.
_ZIP_AREAS: dict[str, frozenset[str]] = {
    "0": frozenset({"CT", "MA", "ME", "NH", "NJ", "PR", "RI", "VT", "VI", "AE"}),
    "1": frozenset({"DE", "NY", "PA"}),
    "2": frozenset({"DC", "MD", "NC", "SC", "VA", "WV"}),
    "3": frozenset({"AL", "FL", "GA", "MS", "TN", "AA"}),
    "4": frozenset({"IN", "KY", "MI", "OH"}),
    "5": frozenset({"IA", "MN", "MT", "ND", "SD", "WI"}),
    "6": frozenset({"IL", "KS", "MO", "NE"}),
    "7": frozenset({"AR", "LA", "OK", "TX"}),
    "8": frozenset({"AZ", "CO", "ID", "NM", "NV", "UT", "WY"}),
    "9": frozenset({"AK", "CA", "HI", "OR", "WA", "AS", "GU", "MP", "FM", "MH", "PW", "AP"}),
}
_ZIP_EXCEPTIONS: dict[str, frozenset[str]] = {
    "005": frozenset({"NY"}),  # Holtsville, NY
    "063": frozenset({"NY"}),  # Fishers Island, NY
    "569": frozenset({"DC"}),
    "885": frozenset({"TX"}),  # El Paso, TX
}

STREET_SUFFIXES: dict[str, str] = {
    "ALLEY": "ALY", "ANNEX": "ANX", "ARCADE": "ARC", "AVENUE": "AVE", "AV": "AVE", "AVEN": "AVE",
    "AVENU": "AVE", "AVN": "AVE", "AVNUE": "AVE", "BAYOU": "BYU", "BEACH": "BCH", "BEND": "BND",
    "BLUFF": "BLF", "BOULEVARD": "BLVD", "BOUL": "BLVD", "BOULV": "BLVD", "BRANCH": "BR",
    "BRIDGE": "BRG", "BROOK": "BRK", "BYPASS": "BYP", "CANYON": "CYN", "CAUSEWAY": "CSWY",
    "CENTER": "CTR", "CENTRE": "CTR", "CIRCLE": "CIR", "CIRC": "CIR", "CLIFF": "CLF", "COURT": "CT",
    "COVE": "CV", "CREEK": "CRK", "CRESCENT": "CRES", "CROSSING": "XING", "DRIVE": "DR", "DRIV": "DR",
    "ESTATES": "ESTS", "EXPRESSWAY": "EXPY", "EXTENSION": "EXT", "FERRY": "FRY", "FIELD": "FLD",
    "FIELDS": "FLDS", "FREEWAY": "FWY", "GARDEN": "GDN", "GARDENS": "GDNS", "GATEWAY": "GTWY",
    "GLEN": "GLN", "GREEN": "GRN", "GROVE": "GRV", "HARBOR": "HBR", "HEIGHTS": "HTS", "HIGHWAY": "HWY",
    "HILL": "HL", "HILLS": "HLS", "HOLLOW": "HOLW", "ISLAND": "IS", "JUNCTION": "JCT", "KNOLL": "KNL",
    "LAKE": "LK", "LANDING": "LNDG", "LANE": "LN", "MANOR": "MNR", "MEADOW": "MDW", "MEADOWS": "MDWS",
    "MILL": "ML", "MOTORWAY": "MTWY", "MOUNT": "MT", "MOUNTAIN": "MTN", "ORCHARD": "ORCH",
    "PARKWAY": "PKWY", "PKY": "PKWY", "PASSAGE": "PSGE", "PIKE": "PIKE", "PLACE": "PL", "PLAZA": "PLZ",
    "POINT": "PT", "PORT": "PRT", "PRAIRIE": "PR", "RANCH": "RNCH", "RIDGE": "RDG", "RIVER": "RIV",
    "ROAD": "RD", "ROUTE": "RTE", "SHORE": "SHR", "SHORES": "SHRS", "SKYWAY": "SKWY", "SPRING": "SPG",
    "SPRINGS": "SPGS", "SQUARE": "SQ", "STATION": "STA", "STREET": "ST", "STR": "ST", "STRT": "ST",
    "SUMMIT": "SMT", "TERRACE": "TER", "THROUGHWAY": "TRWY", "TRACE": "TRCE", "TRAIL": "TRL",
    "TURNPIKE": "TPKE", "VALLEY": "VLY", "VIADUCT": "VIA", "VIEW": "VW", "VILLAGE": "VLG",
    "VISTA": "VIS", "WALK": "WALK", "WAY": "WAY",
}  # fmt: skip
"""USPS street suffix abbreviations (Publication 28, appendix C1), the common subset and misspellings."""
_SUFFIX_CODES = frozenset(STREET_SUFFIXES.values())

DIRECTIONALS: dict[str, str] = {
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
    "NORTHEAST": "NE", "NORTHWEST": "NW", "SOUTHEAST": "SE", "SOUTHWEST": "SW",
}  # fmt: skip
_DIRECTION_CODES = frozenset(DIRECTIONALS.values())

UNIT_DESIGNATORS: dict[str, str] = {
    "APARTMENT": "APT", "BASEMENT": "BSMT", "BUILDING": "BLDG", "DEPARTMENT": "DEPT", "FLOOR": "FL",
    "FRONT": "FRNT", "HANGAR": "HNGR", "LOBBY": "LBBY", "LOT": "LOT", "LOWER": "LOWR", "OFFICE": "OFC",
    "PENTHOUSE": "PH", "PIER": "PIER", "REAR": "REAR", "ROOM": "RM", "SIDE": "SIDE", "SLIP": "SLIP",
    "SPACE": "SPC", "STOP": "STOP", "SUITE": "STE", "TRAILER": "TRLR", "UNIT": "UNIT", "UPPER": "UPPR",
}  # fmt: skip
"""USPS secondary unit designators (Publication 28, appendix C2)."""
_LINE1_UNITS = frozenset(
    {"SUITE", "STE", "APARTMENT", "APT", "UNIT", "ROOM", "RM", "FLOOR", "FL", "BUILDING", "BLDG", "OFFICE", "OFC"}
)

_PO_BOX = re.compile(
    r"\b(?:P\s*O\s*(?:BOX|BX|B)|POST\s*OFFICE\s*(?:BOX|BX)|POB|BOX)\s*\d"
    r"|\bP\s*O\s*BOX\b|\bPOST\s+OFFICE\s+BOX\b|\bPMB\b|\bPRIVATE\s+MAIL\s*BOX\b"
)
_ZIP = re.compile(r"(\d{5})(?:-?(\d{4}))?")

ISSUES = {
    "missing_address": "No address was given.",
    "missing_line1": "The street address (line1) is missing.",
    "missing_city": "The city is missing.",
    "missing_state": "The state is missing.",
    "missing_postal_code": "The ZIP code is missing.",
    "unsupported_country": "Only US addresses can be checked.",
    "invalid_state": "The state is not a US state, territory or military code.",
    "invalid_postal_code": "The ZIP code must be 5 digits or ZIP+4.",
    "state_postal_mismatch": "The ZIP code does not belong to the state.",
    "po_box": "A PO box or private mailbox is not a physical business address.",
}
"""Every issue code :func:`check_address` reports, and what it means."""
INCOMPLETE_ISSUES = frozenset(
    {"missing_address", "missing_line1", "missing_city", "missing_state", "missing_postal_code"}
)
"""The issues that make an address incomplete (rather than only doubtful)."""

_US = frozenset({"US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA", "U S", "U S A"})


def _ascii_upper(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def _tokens(value: str) -> list[str]:
    """Upper-case words; periods and commas dropped, other punctuation but ``# - /`` a space."""
    cleaned = _ascii_upper(value).replace(".", "").replace("'", "")
    cleaned = re.sub(r"[^A-Z0-9#/\- ]", " ", cleaned)
    cleaned = re.sub(r"#\s*", "# ", cleaned)  # "#200" and "# 200" read the same
    return cleaned.split()


def _unit(tokens: list[str]) -> list[str]:
    """A secondary unit with its designator abbreviated ("SUITE 200" → "STE 200")."""
    return [UNIT_DESIGNATORS.get(token, token) for token in tokens]


def _street(tokens: list[str]) -> list[str]:
    """The street part of line 1 with directionals and the suffix abbreviated."""
    words = list(tokens)
    start = 1 if words and words[0][:1].isdigit() else 0
    # A post-directional: last word, after at least a name and a suffix ("MAIN ST NORTH").
    end = len(words)
    if end - start >= 3 and words[-1] in DIRECTIONALS:
        words[-1] = DIRECTIONALS[words[-1]]
        end -= 1
    # The suffix: the last word of the street name, when a name precedes it ("NORTH STREET" keeps NORTH).
    if end - start >= 2 and words[end - 1] in STREET_SUFFIXES:
        words[end - 1] = STREET_SUFFIXES[words[end - 1]]
    # A pre-directional: the first word, unless it is the street's name ("100 NORTH ST").
    rest = words[start + 1 : end]
    if start < end and words[start] in DIRECTIONALS and rest and (len(rest) >= 2 or rest[0] not in _SUFFIX_CODES):
        words[start] = DIRECTIONALS[words[start]]
    return words


def _split_unit(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Line 1's tokens split where a secondary unit starts ("... ST STE 400", "... ST # 4").

    Only unambiguous designators followed by a unit number split; words such as FRONT,
    PIER or LOT are also street names, so line 1 keeps them.
    """
    first = 2 if tokens and tokens[0][:1].isdigit() else 1  # the street keeps at least one name word
    for index in range(first, len(tokens) - 1):
        designator, number = tokens[index], tokens[index + 1]
        if designator == "#" or (designator in _LINE1_UNITS and any(c.isdigit() for c in number)):
            return tokens[:index], tokens[index:]
    return tokens, []


def normalize_state(value: Any) -> str | None:
    """The USPS code of a state, territory or military 'state' given as a code or a full name."""
    raw = text(value)
    if raw is None:
        return None
    key = " ".join(_tokens(raw))
    if key in US_STATES:
        return key
    return _STATE_NAMES.get(key)


def normalize_postal_code(value: Any) -> str | None:
    """``12345`` or ``12345-6789`` from a ZIP or ZIP+4 (a JSON number keeps its leading zeros), else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value).zfill(5 if value < 100000 else 9)
    raw = text(value)
    found = _ZIP.fullmatch(raw) if raw is not None else None
    if found is None:
        return None
    return found.group(1) + (f"-{found.group(2)}" if found.group(2) else "")


def zip_serves_state(postal_code: str, state: str) -> bool:
    """Whether the ZIP's national area (or one of the known exceptions) serves ``state``."""
    return state in _ZIP_AREAS[postal_code[0]] or state in _ZIP_EXCEPTIONS.get(postal_code[:3], frozenset())


def is_po_box(line: str) -> bool:
    """Whether an address line is a post office box or private mailbox."""
    return _PO_BOX.search(" ".join(_tokens(line)).replace("#", "")) is not None


@dataclass(frozen=True)
class AddressCheck:
    """The outcome of :func:`check_address`: issue codes (keys of ``ISSUES``) and the normalised address."""

    issues: list[str] = field(default_factory=list)
    normalized: dict[str, str | None] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every required component is present."""
        return not INCOMPLETE_ISSUES.intersection(self.issues)

    @property
    def valid(self) -> bool:
        """Complete and without any other issue."""
        return not self.issues


def check_address(address: Any) -> AddressCheck:
    """Check and normalise one address object (any JSON value)."""
    if not isinstance(address, dict):
        return AddressCheck(issues=["missing_address"])
    issues: list[str] = []
    country_raw = text(address.get("country"))
    country = " ".join(_tokens(country_raw)) if country_raw is not None else "US"
    us = country in _US
    # Outside the US, state and postal code rules differ: only line 1 and city are required.
    required = ("line1", "city", "state", "postal_code") if us else ("line1", "city")
    for name in required:
        given = address.get(name)
        if text(given) is None and not (name == "postal_code" and isinstance(given, int)):
            issues.append(f"missing_{name}")
    if not us:
        issues.append("unsupported_country")

    state = normalize_state(address.get("state"))
    postal_code = normalize_postal_code(address.get("postal_code"))
    if us:
        if state is None and "missing_state" not in issues:
            issues.append("invalid_state")
        if postal_code is None and "missing_postal_code" not in issues:
            issues.append("invalid_postal_code")
        if state is not None and postal_code is not None and not zip_serves_state(postal_code, state):
            issues.append("state_postal_mismatch")
    if any(is_po_box(text(address.get(name)) or "") for name in ("line1", "line2")):
        issues.append("po_box")

    line1_tokens, unit_tokens = _split_unit(_tokens(text(address.get("line1")) or ""))
    line2_tokens = _tokens(text(address.get("line2")) or "")
    normalized: dict[str, str | None] = {
        "line1": " ".join(_street(line1_tokens)) or None,
        "line2": " ".join(_unit(unit_tokens + line2_tokens)) or None,
        "city": " ".join(_tokens(text(address.get("city")) or "")) or None,
        "state": state or " ".join(_tokens(text(address.get("state")) or "")) or None,
        "postal_code": postal_code or text(address.get("postal_code")),
        "country": "US" if us else country,
    }
    return AddressCheck(issues=issues, normalized=normalized)


def single_line(normalized: dict[str, str | None]) -> str:
    """A normalised address on one line: ``1 MAIN ST STE 2, CITY, ST 12345``."""
    street = " ".join(part for part in (normalized.get("line1"), normalized.get("line2")) if part)
    region = " ".join(part for part in (normalized.get("state"), normalized.get("postal_code")) if part)
    return ", ".join(part for part in (street, normalized.get("city"), region) if part)


def address_check(agent_input: AgentInput) -> AgentResult:
    """Check the business's ``address``: output ``{"valid", "complete", "normalized", "issues"}``."""
    check = check_address(agent_input.context.get("address"))
    if check.valid:
        summary = f"Complete US physical address: {single_line(check.normalized)}."
        # No USPS database was consulted: the address is well-formed, not proven deliverable.
        confidence = 0.8
    else:
        summary = " ".join(ISSUES[issue] for issue in check.issues)
        confidence = 1.0
    content = {
        "valid": check.valid,
        "complete": check.complete,
        "normalized": check.normalized,
        "single_line": single_line(check.normalized) if check.normalized else None,
        "issues": [{"code": issue, "message": ISSUES[issue]} for issue in check.issues],
    }
    return AgentResult(
        artifacts=[artifact("Address check", "address_check", summary, confidence, content)],
        output={
            "valid": check.valid,
            "complete": check.complete,
            "normalized": check.normalized,
            "issues": list(check.issues),
        },
    )
