"""``cip.watchlist_screening``: fuzzy screening of the business's names against a watchlist.

Screened names: the business ``name`` and ``dba`` (as entities) and each officer's ``name``
(as individuals). The watchlist is the org's context document ``watchlist/default``
(``PUT /v1/contexts/watchlist/default``), or, when the org has none, the built-in sample in
``data/watchlist.json`` (fictional names only). Its schema::

    {"entries": [{"name": "Blackwater Shell Holdings",   # required
                  "type": "entity",                      # or "individual"; default "entity"
                  "list": "OFAC SDN",                    # where the entry comes from; default "watchlist"
                  "aliases": ["BWS Holdings"],           # optional, each screened like the name
                  "id": "...", "remarks": "..."}]}       # any other key is carried into hits

A malformed list raises :class:`WatchlistError`, so the step fails visibly instead of
screening against nothing.

Matching, in :func:`normalize_name` and :func:`similarity`:

* names are compared as words: diacritics removed (NFKD), case folded, ``&`` read as
  "and", dotted initialisms joined (``L.L.C.`` → ``llc``), apostrophes dropped, any other
  punctuation a separator; two words one name writes apart and the other as one
  ("Black Water" / "Blackwater") are joined;
* entity names lose a leading "the" and trailing legal-form words (LLC, Inc, Corp, Co,
  Company, Ltd, GmbH, ...). Descriptive words such as "Holdings", "Group" or "Trading" stay:
  dropping them would make "Acme Holdings" and "Acme Group" the same name;
* the score is a token-set Dice coefficient: each word pairs with at most one word of the
  other name, best pairs first; a pair adds 1 when equal, its ``difflib.SequenceMatcher``
  ratio when at least 0.5 (misspellings, transliterations), 0.5 for an initial ("F" and
  "Fictitious"); the sum, doubled, is divided by the two names' word counts. Word order
  does not matter; a missing middle name costs about 0.2;
* a score of at least ``MATCH_THRESHOLD`` (0.88) is a ``match``, at least
  ``POTENTIAL_THRESHOLD`` (0.75) a ``potential_match``. The rules lean towards flagging:
  a false positive costs a human review, a false negative a sanctions breach.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Literal

from threadline.models.workflow import AgentInput, AgentResult

from threadline_agents.cip.common import artifact, score, text

MATCH_THRESHOLD = 0.88
POTENTIAL_THRESHOLD = 0.75
_TOKEN_PAIR_THRESHOLD = 0.5  # tokens less alike than this do not pair at all
_INITIAL_WEIGHT = 0.5  # "F" against "Fictitious"

WATCHLIST_CONTEXT = ("watchlist", "default")
BUILTIN_WATCHLIST = Path(__file__).with_name("data") / "watchlist.json"

LEGAL_FORMS = frozenset(
    {
        "llc", "lc", "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited",
        "plc", "lp", "llp", "lllp", "pllc", "pc", "gmbh", "ag", "sa", "sarl", "sas", "bv", "nv",
        "srl", "spa", "oy", "ab", "as", "kk", "pte", "pty", "and",
    }
)  # fmt: skip
"""Trailing words dropped from entity names ("and" so that "Smith & Co" becomes "smith")."""

# Letters NFKD does not decompose into a base letter and a combining mark.
_FOLD = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d", "\u0131": "i"})
_INITIALISM = re.compile(r"\b(?:[a-z]\.){2,}[a-z]?\b")

Status = Literal["clear", "potential_match", "match"]


class WatchlistError(ValueError):
    """The operator's watchlist document does not follow the schema."""


@dataclass(frozen=True)
class WatchlistEntry:
    """One listed party, with its names already normalised."""

    name: str
    type: str
    list: str
    aliases: tuple[str, ...]
    extra: dict[str, Any]
    names: tuple[tuple[str, tuple[str, ...]], ...]  # (as written, tokens) for the name and each alias


@dataclass(frozen=True)
class Hit:
    """A screened name that resembles a watchlist entry."""

    screened_name: str
    screened_role: str
    entry: WatchlistEntry
    matched_name: str
    score: float

    @property
    def status(self) -> Status:
        """``match`` or ``potential_match``."""
        return status_for(self.score)


def status_for(value: float) -> Status:
    """The screening status a similarity score means."""
    if value >= MATCH_THRESHOLD:
        return "match"
    if value >= POTENTIAL_THRESHOLD:
        return "potential_match"
    return "clear"


def normalize_name(value: str, entity: bool = True) -> tuple[str, ...]:
    """A name as comparable tokens (see the module docstring)."""
    folded = unicodedata.normalize("NFKD", value.casefold().translate(_FOLD))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = folded.replace("&", " and ").replace("'", "").replace("\u2019", "")
    folded = _INITIALISM.sub(lambda found: found.group(0).replace(".", ""), folded)
    tokens = [token for token in re.split(r"[^a-z0-9]+", folded) if token]
    if entity:
        stripped = list(tokens)
        if len(stripped) > 1 and stripped[0] == "the":
            stripped.pop(0)
        while len(stripped) > 1 and stripped[-1] in LEGAL_FORMS:
            stripped.pop()
        tokens = stripped
    return tuple(tokens)


def _token_similarity(a: str, b: str) -> float:
    """What a pair of tokens adds: 1 when equal, half for an initial, else their spelling similarity."""
    if a == b:
        return 1.0
    if (len(a) == 1 or len(b) == 1) and a[0] == b[0]:
        return _INITIAL_WEIGHT
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    # The quick ratios are upper bounds of ratio(): most pairs are ruled out without computing it.
    if matcher.real_quick_ratio() < _TOKEN_PAIR_THRESHOLD or matcher.quick_ratio() < _TOKEN_PAIR_THRESHOLD:
        return 0.0
    similar = matcher.ratio()
    return similar if similar >= _TOKEN_PAIR_THRESHOLD else 0.0


def _join_split_words(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    """``a`` with two adjacent words joined where ``b`` writes them as one ("black water" → "blackwater")."""
    joined: list[str] = []
    index = 0
    while index < len(a):
        if index + 1 < len(a) and a[index] + a[index + 1] in b:
            joined.append(a[index] + a[index + 1])
            index += 2
        else:
            joined.append(a[index])
            index += 1
    return tuple(joined)


def token_set_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Dice coefficient over tokens, each token paired with at most one alike token of the other name."""
    if not a or not b:
        return 0.0
    pairs = sorted(
        ((_token_similarity(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)),
        key=lambda pair: (-pair[0], pair[1], pair[2]),
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    total = 0.0
    for similar, i, j in pairs:
        if similar <= 0.0:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        total += similar
    return 2 * total / (len(a) + len(b))


def similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """How alike two normalised names are, 0..1 (1 for the same words in any order)."""
    a = _join_split_words(a, b)
    b = _join_split_words(b, a)
    if not a or not b:
        return 0.0
    if sorted(a) == sorted(b):
        return 1.0
    return token_set_similarity(a, b)


def parse_watchlist(document: Any) -> list[WatchlistEntry]:
    """The entries of a watchlist document, validated and normalised."""
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise WatchlistError('A watchlist is an object with an "entries" list.')
    entries: list[WatchlistEntry] = []
    for index, raw in enumerate(document["entries"]):
        where = f"entries[{index}]"
        if not isinstance(raw, dict) or text(raw.get("name")) is None:
            raise WatchlistError(f'{where} must be an object with a non-empty "name".')
        kind = raw.get("type", "entity")
        if kind not in ("entity", "individual"):
            raise WatchlistError(f'{where}.type must be "entity" or "individual".')
        aliases = raw.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(alias, str) for alias in aliases):
            raise WatchlistError(f"{where}.aliases must be a list of strings.")
        listed = raw.get("list", "watchlist")
        if not isinstance(listed, str):
            raise WatchlistError(f"{where}.list must be a string.")
        name = str(raw["name"]).strip()
        written = [name, *(alias.strip() for alias in aliases if alias.strip())]
        entries.append(
            WatchlistEntry(
                name=name,
                type=kind,
                list=listed,
                aliases=tuple(written[1:]),
                extra={k: v for k, v in raw.items() if k not in ("name", "type", "list", "aliases")},
                names=tuple((each, normalize_name(each, entity=kind == "entity")) for each in written),
            )
        )
    return entries


@functools.cache
def builtin_watchlist() -> tuple[WatchlistEntry, ...]:
    """The built-in sample list, read on first use (not at import)."""
    return tuple(parse_watchlist(json.loads(BUILTIN_WATCHLIST.read_text(encoding="utf-8"))))


def screened_names(business: dict[str, Any]) -> list[tuple[str, str]]:
    """``(role, name)`` for the business name, DBA and each named officer, without repeats."""
    names: list[tuple[str, str]] = []
    for role in ("name", "dba"):
        value = text(business.get(role))
        if value is not None:
            names.append((role, value))
    officers = business.get("officers")
    for officer in officers if isinstance(officers, list) else []:
        value = text(officer.get("name")) if isinstance(officer, dict) else None
        if value is not None:
            names.append(("officer", value))
    unique: dict[str, tuple[str, str]] = {}
    for role, value in names:
        unique.setdefault(value.casefold(), (role, value))
    return list(unique.values())


def screen(names: list[tuple[str, str]], entries: Sequence[WatchlistEntry]) -> tuple[list[Hit], float]:
    """Every (screened name, entry) pair scoring at least ``POTENTIAL_THRESHOLD``, best first,
    and the best score over all pairs."""
    hits: list[Hit] = []
    best = 0.0
    for role, name in names:
        tokens = normalize_name(name, entity=role != "officer")
        for entry in entries:
            matched, top = max(
                ((written, similarity(tokens, entry_tokens)) for written, entry_tokens in entry.names),
                key=lambda candidate: candidate[1],
            )
            best = max(best, top)
            if status_for(top) != "clear":
                hits.append(Hit(name, role, entry, matched, score(top)))
    hits.sort(key=lambda hit: (-hit.score, hit.entry.name, hit.screened_name))
    return hits, score(best)


_ROLES = {"name": "Business name", "dba": "DBA", "officer": "Officer"}


def _hit_artifact(hit: Hit) -> dict[str, Any]:
    label = "Watchlist match" if hit.status == "match" else "Potential watchlist match"
    summary = (
        f'{_ROLES[hit.screened_role]} "{hit.screened_name}" resembles "{hit.matched_name}"'
        f" on {hit.entry.list} (score {hit.score:.3f})."
    )
    content = {
        "status": hit.status,
        "score": hit.score,
        "screened_name": hit.screened_name,
        "screened_role": hit.screened_role,
        "matched_name": hit.matched_name,
        "entry": {
            "name": hit.entry.name,
            "type": hit.entry.type,
            "list": hit.entry.list,
            "aliases": list(hit.entry.aliases),
            **hit.entry.extra,
        },
    }
    return artifact(f"{label}: {hit.entry.name}", "watchlist_hit", summary, hit.score, content, [hit.entry.list])


def watchlist_screening(agent_input: AgentInput) -> AgentResult:
    """Screen the business's names: output ``{"hits", "max_score", "status"}``."""
    document = agent_input.load_context(*WATCHLIST_CONTEXT)
    if document is None:
        entries: Sequence[WatchlistEntry] = builtin_watchlist()
        origin, source = "built-in sample", "built-in sample watchlist"
    else:
        entries = parse_watchlist(document)
        origin, source = "operator", "/".join(WATCHLIST_CONTEXT)
    names = screened_names(agent_input.context)
    hits, max_score = screen(names, entries)
    status: Status = "match" if any(h.status == "match" for h in hits) else "potential_match" if hits else "clear"

    if status == "clear":
        # 1 while the best score stays under 0.5 (no two words alike), falling to 0.5 at the
        # potential-match threshold: a near miss is a weaker "clear".
        confidence = 0.5 + 0.5 * min(1.0, (POTENTIAL_THRESHOLD - max_score) / (POTENTIAL_THRESHOLD - 0.5))
    else:
        confidence = max_score
    words = {"clear": "clear", "potential_match": "potential match", "match": "match"}[status]
    summary = (
        f"{len(names)} name(s) screened against {len(entries)} entries of the {origin} watchlist:"
        f" {words} ({len(hits)} hit(s), best score {max_score:.3f})."
    )
    content = {
        "status": status,
        "hits": len(hits),
        "max_score": max_score,
        "watchlist": {
            "origin": origin,
            "entries": len(entries),
            "lists": sorted({entry.list for entry in entries}),
        },
        "screened": [{"role": role, "name": name} for role, name in names],
        "thresholds": {"match": MATCH_THRESHOLD, "potential_match": POTENTIAL_THRESHOLD},
    }
    artifacts = [artifact("Watchlist screening", "watchlist_screening", summary, confidence, content, [source])]
    artifacts.extend(_hit_artifact(hit) for hit in hits)
    return AgentResult(artifacts=artifacts, output={"hits": len(hits), "max_score": max_score, "status": status})
