"""threadline.store.attributes converts exactly as boto3.dynamodb.types does (it replaces it in the layer)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary
from boto3.dynamodb.types import TypeDeserializer as Boto3Deserializer
from boto3.dynamodb.types import TypeSerializer as Boto3Serializer
from threadline.store.attributes import TypeDeserializer, TypeSerializer

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    10**30,
    Decimal("3.14159"),
    Decimal("1E+100"),
    "",
    "héllo",
    b"\x00\x01",
    bytearray(b"ab"),
    {1, 2},
    {"a", "b"},
    {b"x"},
    [],
    [1, "two", None, [True]],
    (1, 2),
    {"nested": {"list": [Decimal("0.5"), {"deep": "yes"}]}, "empty": {}},
]


def stable_id(value: Any) -> str:
    """A test id that is the same in every process (pytest-xdist's workers must agree): sets
    sorted, objects by type."""
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(repr(v) for v in value)) + "}"
    if type(value) is object:
        return "object()"
    return repr(value)


@pytest.mark.parametrize("value", VALUES, ids=stable_id)
def test_serializes_as_boto3(value: Any) -> None:
    assert TypeSerializer().serialize(value) == Boto3Serializer().serialize(value)


@pytest.mark.parametrize("value", VALUES, ids=stable_id)
def test_round_trips_as_boto3(value: Any) -> None:
    attribute = Boto3Serializer().serialize(value)
    ours, theirs = TypeDeserializer().deserialize(attribute), Boto3Deserializer().deserialize(attribute)
    if isinstance(theirs, Binary):
        theirs = theirs.value  # binary comes back as bytes here, not boto3's wrapper
    if isinstance(theirs, set):
        theirs = {t.value if isinstance(t, Binary) else t for t in theirs}
    assert ours == theirs
    assert type(ours) is type(theirs)


@pytest.mark.parametrize(
    "value", [1.5, Decimal("Infinity"), Decimal("NaN"), Decimal("1" * 39), object(), {1.5}], ids=stable_id
)
def test_rejects_what_boto3_rejects(value: Any) -> None:
    with pytest.raises(Exception) as theirs:
        Boto3Serializer().serialize(value)
    with pytest.raises(type(theirs.value)):
        TypeSerializer().serialize(value)


@pytest.mark.parametrize("attribute", [{}, {"X": "1"}], ids=stable_id)
def test_rejects_unknown_attribute_values(attribute: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        TypeDeserializer().deserialize(attribute)
