"""Which metadata pairs a thread is listed under, and the grammar of a ``metadata`` filter.

A thread's metadata is indexed as its *scalar paths*: every string, number, boolean or null
reached through objects at most ``MAX_INDEXED_DEPTH`` keys deep, e.g. ``{"a": {"b": 1}}``
is listed under ``a.b = 1``. Arrays are stored but not indexed. A filter matches a thread
when every pair of the filter is among the thread's pairs (JSON containment), with at most one
key naming a set of values instead (``{"tier": {"$in": ["gold", "silver"]}}``).

Numbers compare by value (``1`` matches ``1.0``); a boolean is never a number; strings are
case-sensitive. A pair is identified by a digest of its path and canonical value, so keys of
any characters and long values make index keys of one fixed length.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from threadline.errors import InvalidParameterError

MAX_INDEXED_DEPTH = 4
MAX_INDEXED_PAIRS = 64
MAX_IN_VALUES = 10
IN_OPERATOR = "$in"

Path = tuple[str, ...]


@dataclass(frozen=True)
class MetadataPair:
    """One indexed (path, value) of a thread's metadata."""

    path: Path
    value: Any

    @property
    def digest(self) -> str:
        """The pair's identity in keys: 32 hex digits of SHA-256 over path and canonical value."""
        raw = json.dumps([list(self.path), _canonical(self.value)], separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class MetadataFilter:
    """A parsed ``metadata`` filter: pairs that must all be present, and at most one path
    whose value must be one of several."""

    pairs: tuple[MetadataPair, ...] = ()
    one_of: tuple[MetadataPair, ...] = ()  # the ``$in`` alternatives, all on one path

    def __bool__(self) -> bool:
        return bool(self.pairs or self.one_of)

    def matches(self, metadata: dict[str, Any] | None) -> bool:
        """Whether a thread with ``metadata`` is selected (the indexes give the same answer)."""
        present = {pair.digest for pair in indexed_pairs(metadata)}
        if not all(pair.digest in present for pair in self.pairs):
            return False
        return not self.one_of or any(pair.digest in present for pair in self.one_of)


def indexed_pairs(metadata: dict[str, Any] | None) -> list[MetadataPair]:
    """The pairs a thread with ``metadata`` is listed under, in path order."""
    pairs: list[MetadataPair] = []

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, dict):
            if len(path) < MAX_INDEXED_DEPTH:
                for key in sorted(value):
                    walk(value[key], (*path, key))
        elif not isinstance(value, list):
            pairs.append(MetadataPair(path, value))

    walk(metadata or {}, ())
    return pairs


def check_indexable(metadata: dict[str, Any] | None) -> None:
    """A thread's metadata may be listed under at most ``MAX_INDEXED_PAIRS`` pairs."""
    if len(indexed_pairs(metadata)) > MAX_INDEXED_PAIRS:
        raise ValueError(
            f"metadata may hold at most {MAX_INDEXED_PAIRS} values (strings, numbers, booleans or nulls"
            f" within {MAX_INDEXED_DEPTH} levels), as each is indexed for filtering"
        )


def parse_filter(document: dict[str, Any], parameter: str = "metadata") -> MetadataFilter:
    """The filter a JSON object asks for; anything outside the grammar is a 400 naming ``parameter``."""

    def refuse(message: str) -> InvalidParameterError:
        return InvalidParameterError(f"{parameter} filter: {message}", parameter)

    pairs: list[MetadataPair] = []
    one_of: list[MetadataPair] = []

    def walk(value: Any, path: Path) -> None:
        if len(path) > MAX_INDEXED_DEPTH:
            raise refuse(f"paths may be at most {MAX_INDEXED_DEPTH} keys deep ('{'.'.join(path)}' is deeper)")
        if isinstance(value, list):
            raise refuse(f"arrays are not indexed ('{'.'.join(path)}'); use {{\"{IN_OPERATOR}\": [...]}} for one of")
        if not isinstance(value, dict):
            pairs.append(MetadataPair(path, value))
            return
        operators = [key for key in value if key.startswith("$")]
        if not path and operators:
            raise refuse(f"an operator needs a key ('{operators[0]}' is at the top)")
        if operators:
            if operators != [IN_OPERATOR] or len(value) != 1:
                raise refuse(f"the only operator is {IN_OPERATOR}, alone in its object ('{'.'.join(path)}')")
            alternatives = value[IN_OPERATOR]
            if one_of:
                raise refuse(f"at most one {IN_OPERATOR}")
            if not isinstance(alternatives, list) or not 1 <= len(alternatives) <= MAX_IN_VALUES:
                raise refuse(f"{IN_OPERATOR} takes a list of 1 to {MAX_IN_VALUES} values")
            for alternative in alternatives:
                if isinstance(alternative, (dict, list)):
                    raise refuse(f"{IN_OPERATOR} values are strings, numbers, booleans or null")
                one_of.append(MetadataPair(path, alternative))
            return
        if not value and path:
            raise refuse(f"an empty object matches nothing indexed ('{'.'.join(path) or 'metadata'}')")
        for key, inner in value.items():
            walk(inner, (*path, key))

    walk(document, ())
    if len({pair.digest for pair in one_of}) < len(one_of):
        one_of = list({pair.digest: pair for pair in one_of}.values())
    return MetadataFilter(pairs=tuple(pairs), one_of=tuple(one_of))


def _canonical(value: Any) -> list[Any]:
    if value is None:
        return ["z"]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, (int, float, Decimal)):
        number = (
            Decimal(value) if isinstance(value, int) else Decimal(repr(value)) if isinstance(value, float) else value
        )
        return ["n", "0" if number == 0 else format(number.normalize(), "f")]
    return ["s", str(value)]
