"""auth/api_keys.py (format, hash, Bearer parsing) and store/api_keys.py (the keys table, on moto)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from threadline import clients
from threadline.auth.api_keys import KEY_PATTERN, generate_key, hash_key, parse_bearer
from threadline.models.api_keys import PREFIX, ApiKeyRecord
from threadline.store.api_keys import ApiKeyStore
from threadline_tools.provision import Deployment


def test_a_key_is_prefixed_readable_and_carries_32_random_bytes() -> None:
    # When a key is generated
    key_id, key = generate_key()

    # Then it reads tl_<id>_<secret>, the secret being 32 bytes, url-safe base64
    match = KEY_PATTERN.match(key)
    assert match is not None
    assert key.startswith(PREFIX) and match.group(1) == key_id
    secret = match.group(2)
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32


def test_keys_never_repeat() -> None:
    # When many keys are generated
    generated = [generate_key() for _ in range(200)]

    # Then no key, and no key id, repeats
    assert len({key for _, key in generated}) == 200
    assert len({key_id for key_id, _ in generated}) == 200


def test_the_stored_form_is_the_sha256_of_the_whole_key() -> None:
    _, key = generate_key()
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert key not in hash_key(key)


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        ("Bearer {key}", True),
        ("bearer {key}", True),
        ("BEARER {key}", True),
        ("  Bearer   {key}  ", True),
        (None, False),
        ("", False),
        ("Bearer", False),
        ("Bearer ", False),
        ("{key}", False),
        ("Basic {key}", False),
        ("Bearer {key} extra", False),
        ("Bearer {key}x", False),
        ("Bearer tl_ABCDEFGHIJKL_" + "a" * 43, False),  # upper-case key id
        ("Bearer sk_abcdefghijkl_" + "a" * 43, False),  # another product's prefix
        ("Bearer tl_abcdefghijkl_" + "a" * 42, False),  # secret one character short
        ("Bearer tl_abcdefghijkl_" + "a" * 42 + "=", False),
    ],
)
def test_parse_bearer(header: str | None, valid: bool) -> None:
    # Given a header built around a real key
    _, key = generate_key()
    value = header.format(key=key) if header is not None else None

    # When it is parsed
    # Then only a well-formed Bearer key comes out
    assert parse_bearer(value) == (key if valid else None)


def test_a_record_is_active_until_revoked() -> None:
    record = ApiKeyRecord("h", "abcdefghijkl", "acme", "ci", ("read",), "2024-01-15T09:30:00.000Z")
    assert record.active and record.display_prefix == "tl_abcdefghijkl"
    assert not ApiKeyRecord(**{**record.__dict__, "revoked_at": "2024-02-01T00:00:00.000Z"}).active


def _record(org_id: str, created_at: str, project_id: str | None = None) -> tuple[str, ApiKeyRecord]:
    key_id, key = generate_key()
    return key, ApiKeyRecord(
        key_hash=hash_key(key),
        key_id=key_id,
        org_id=org_id,
        name=f"{org_id} key",
        scopes=("read", "write"),
        created_at=created_at,
        project_id=project_id,
    )


def test_the_key_store_round_trip(deployment: Deployment) -> None:
    # Given keys of two orgs stored
    store = ApiKeyStore(clients.dynamodb(), deployment.keys_table)
    key, first = _record("acme", "2024-01-15T09:30:00.000Z", project_id="alpha")
    _, second = _record("acme", "2024-01-15T09:31:00.000Z")
    _, other = _record("globex", "2024-01-15T09:29:00.000Z")
    for record in (second, first, other):
        store.put(record)

    # When they are read back by hash, by id and by org
    # Then each comes back whole, oldest first, and never another org's
    assert store.get(hash_key(key)) == first
    assert store.get(hash_key(generate_key()[1])) is None
    assert store.find(first.key_id) == first
    assert store.find("nosuchkey000") is None
    assert store.list_keys("acme") == [first, second]
    assert store.list_keys() == [other, first, second]


def test_a_key_hash_is_never_overwritten(deployment: Deployment) -> None:
    # Given a stored key
    store = ApiKeyStore(clients.dynamodb(), deployment.keys_table)
    _, record = _record("acme", "2024-01-15T09:30:00.000Z")
    store.put(record)

    # When the same hash is put again (for another org)
    # Then it is refused
    with pytest.raises(clients.dynamodb().exceptions.ConditionalCheckFailedException):
        store.put(ApiKeyRecord(**{**record.__dict__, "org_id": "globex"}))
    assert store.get(record.key_hash) == record


def test_revoking_keeps_the_first_revocation_time(deployment: Deployment) -> None:
    # Given a stored key
    store = ApiKeyStore(clients.dynamodb(), deployment.keys_table)
    _, record = _record("acme", "2024-01-15T09:30:00.000Z")
    store.put(record)

    # When it is revoked twice
    store.revoke(record.key_hash, "2024-02-01T00:00:00.000Z")
    store.revoke(record.key_hash, "2024-03-01T00:00:00.000Z")

    # Then it is inactive since the first time
    revoked = store.get(record.key_hash)
    assert revoked is not None and not revoked.active
    assert revoked.revoked_at == "2024-02-01T00:00:00.000Z"
