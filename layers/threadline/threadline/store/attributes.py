"""DynamoDB attribute values to Python values and back, by ``boto3.dynamodb.types``' rules.

The store needs nothing else of boto3, and ``import boto3.dynamodb.types``
imports all of boto3 (its resource layer, s3transfer, multiprocessing): about
25 ms of every function's cold start for two small converters. The rules are
boto3's: numbers are ``Decimal`` in DynamoDB's own context (38 digits; an
inexact or out-of-range number raises), floats are refused, sets map to
``SS``/``NS``/``BS``. One difference: binary values come back as ``bytes``
(boto3 wraps them in its ``Binary``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

DYNAMODB_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, (int, Decimal))


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_binary(value: Any) -> bool:
    return isinstance(value, (bytes, bytearray))


def _number(value: Any) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _same(value: Any) -> Any:
    return value


_SETS: tuple[tuple[str, Callable[[Any], bool], Callable[[Any], Any]], ...] = (
    ("NS", _is_number, _number),
    ("SS", _is_string, _same),
    ("BS", _is_binary, _same),
)


class TypeSerializer:
    """Python values to attribute values (``"x"`` → ``{"S": "x"}``, ``1`` → ``{"N": "1"}``, ...)."""

    def serialize(self, value: Any) -> dict[str, Any]:
        """The attribute value of ``value``; raises ``TypeError`` for a float or an unsupported type."""
        if value is None:
            return {"NULL": True}
        if isinstance(value, bool):
            return {"BOOL": value}
        if _is_number(value):
            return {"N": _number(value)}
        if _is_string(value):
            return {"S": value}
        if _is_binary(value):
            return {"B": value}
        if isinstance(value, Set):
            for kind, member, convert in _SETS:
                if all(member(v) for v in value):
                    return {kind: [convert(v) for v in value]}
        if isinstance(value, Mapping):
            return {"M": {k: self.serialize(v) for k, v in value.items()}}
        if isinstance(value, (list, tuple)):
            return {"L": [self.serialize(v) for v in value]}
        raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


class TypeDeserializer:
    """Attribute values to Python values (``{"N": "1"}`` → ``Decimal("1")``, ...)."""

    def deserialize(self, value: dict[str, Any]) -> Any:
        """The Python value of an attribute value; raises ``TypeError`` for an unknown type."""
        if not value:
            raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
        kind, data = next(iter(value.items()))
        if kind == "S" or kind == "BOOL" or kind == "B":
            return data
        if kind == "N":
            return DYNAMODB_CONTEXT.create_decimal(data)
        if kind == "M":
            return {k: self.deserialize(v) for k, v in data.items()}
        if kind == "L":
            return [self.deserialize(v) for v in data]
        if kind == "NULL":
            return None
        if kind == "NS":
            return {DYNAMODB_CONTEXT.create_decimal(v) for v in data}
        if kind in ("SS", "BS"):
            return set(data)
        raise TypeError(f"Dynamodb type {kind} is not supported")
