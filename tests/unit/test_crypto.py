"""store/crypto.py: envelope encryption of user_data under a KMS key (moto KMS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cryptography.exceptions import InvalidTag
from moto import mock_aws
from threadline.errors import UndecryptableError
from threadline.store import crypto
from threadline.store.crypto import DATA_KEY_MAX_AGE_SECONDS, DATA_KEY_MAX_MESSAGES, UserDataCipher
from threadline_tools.template import resources


class KmsCalls:
    """Records the KMS calls a client makes (its own event hooks: the calls still reach moto)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.kms.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


@pytest.fixture
def kms() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("kms", region_name="us-east-1")
        yield client, client.create_key(Description="user_data")["KeyMetadata"]["KeyId"]


def test_round_trip(kms: tuple[Any, str]) -> None:
    # Given a cipher over a KMS key
    client, key_id = kms
    cipher = UserDataCipher(lambda: client, key_id)

    # When a string is encrypted twice and decrypted
    first = cipher.encrypt("acme", "t-1", '{"ssn": "123-45-6789"}')
    second = cipher.encrypt("acme", "t-1", '{"ssn": "123-45-6789"}')

    # Then it reads back, never shows in the blob, and each blob is unique (fresh nonce)
    assert cipher.decrypt("acme", "t-1", first) == '{"ssn": "123-45-6789"}'
    assert b"123-45-6789" not in first
    assert first != second
    assert first[:1] == b"\x01"


def test_a_fresh_process_decrypts_through_kms(kms: tuple[Any, str]) -> None:
    # Given a blob written by one process
    client, key_id = kms
    blob = UserDataCipher(lambda: client, key_id).encrypt("acme", "t-1", "é ünïcode ✓")

    # When another process (no cached keys) reads it
    # Then it decrypts
    assert UserDataCipher(lambda: client, key_id).decrypt("acme", "t-1", blob) == "é ünïcode ✓"


def test_a_blob_copied_to_another_thread_does_not_decrypt(kms: tuple[Any, str]) -> None:
    # Given a blob of thread t-1
    client, key_id = kms
    cipher = UserDataCipher(lambda: client, key_id)
    blob = cipher.encrypt("acme", "t-1", "secret")

    # When it is read as thread t-2's (same process, data key cached)
    # Then authentication fails: it cannot be decrypted, and says so naming the thread
    with pytest.raises(UndecryptableError, match="The user_data of thread t-2 cannot be decrypted") as raised:
        cipher.decrypt("acme", "t-2", blob)
    assert isinstance(raised.value.__cause__, InvalidTag)


def test_a_blob_copied_to_another_org_does_not_decrypt(kms: tuple[Any, str]) -> None:
    # Given a blob of org acme
    client, key_id = kms
    cipher = UserDataCipher(lambda: client, key_id)
    blob = cipher.encrypt("acme", "t-1", "secret")

    # When it is read as org globex's, by this process or another
    # Then KMS refuses to unwrap the data key (its encryption context names the org)
    for reader in (cipher, UserDataCipher(lambda: client, key_id)):
        with pytest.raises(UndecryptableError) as raised:
            reader.decrypt("globex", "t-1", blob)
        assert isinstance(raised.value.__cause__, client.exceptions.InvalidCiphertextException)


def test_a_tampered_or_unknown_blob_is_refused(kms: tuple[Any, str]) -> None:
    # Given a valid blob
    client, key_id = kms
    cipher = UserDataCipher(lambda: client, key_id)
    blob = bytearray(cipher.encrypt("acme", "t-1", "secret"))

    # When its last byte is flipped, or its version is unknown
    tampered = bytes(blob[:-1]) + bytes([blob[-1] ^ 1])
    other_version = b"\x02" + bytes(blob[1:])

    # Then none decrypts (nor a truncated one, nor an empty one)
    for unreadable in (tampered, other_version, bytes(blob[:20]), b"", b"\x01"):
        with pytest.raises(UndecryptableError):
            cipher.decrypt("acme", "t-1", unreadable)


def test_kms_being_unavailable_is_not_taken_for_an_unreadable_blob(
    kms: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a valid blob, read by a fresh process while KMS fails with a transient error
    client, key_id = kms
    blob = UserDataCipher(lambda: client, key_id).encrypt("acme", "t-1", "secret")
    from botocore.exceptions import ClientError

    def unavailable(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "KMSInternalException", "Message": "try later"}}, "Decrypt")

    monkeypatch.setattr(client, "decrypt", unavailable)

    # Then KMS's own error comes through (a retry may cure it), not "cannot be decrypted"
    with pytest.raises(ClientError, match="KMSInternalException"):
        UserDataCipher(lambda: client, key_id).decrypt("acme", "t-1", blob)


def test_data_keys_are_reused_per_org_for_a_bounded_number_of_messages(kms: tuple[Any, str]) -> None:
    # Given a cipher whose KMS calls are counted
    client, key_id = kms
    calls = KmsCalls(client)
    cipher = UserDataCipher(lambda: client, key_id)

    # When one org encrypts up to the message bound, and a second org once
    for i in range(DATA_KEY_MAX_MESSAGES):
        cipher.encrypt("acme", f"t-{i}", "x")
    cipher.encrypt("globex", "t-0", "x")

    # Then one data key served each org
    assert calls.count("GenerateDataKey") == 2

    # And the next message of the first org gets a new data key
    cipher.encrypt("acme", "t-next", "x")
    assert calls.count("GenerateDataKey") == 3


def test_data_keys_are_reused_for_a_bounded_time(kms: tuple[Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a cipher whose clock we control
    client, key_id = kms
    calls = KmsCalls(client)
    clock = [1000.0]
    monkeypatch.setattr(crypto.time, "monotonic", lambda: clock[0])
    cipher = UserDataCipher(lambda: client, key_id)
    cipher.encrypt("acme", "t-1", "x")

    # When time passes just under, then past, the age bound
    clock[0] += DATA_KEY_MAX_AGE_SECONDS - 1
    cipher.encrypt("acme", "t-2", "x")
    under = calls.count("GenerateDataKey")
    clock[0] += 2
    cipher.encrypt("acme", "t-3", "x")

    # Then the key is replaced only past it
    assert (under, calls.count("GenerateDataKey")) == (1, 2)


def test_a_page_of_threads_costs_one_unwrap_per_data_key(kms: tuple[Any, str]) -> None:
    # Given ten blobs under one data key
    client, key_id = kms
    writer = UserDataCipher(lambda: client, key_id)
    blobs = [writer.encrypt("acme", f"t-{i}", f"v{i}") for i in range(10)]

    # When another process reads them all
    calls = KmsCalls(client)
    reader = UserDataCipher(lambda: client, key_id)
    values = [reader.decrypt("acme", f"t-{i}", blob) for i, blob in enumerate(blobs)]

    # Then KMS was asked once
    assert values == [f"v{i}" for i in range(10)]
    assert calls.count("Decrypt") == 1


def test_the_encryption_context_matches_the_templates_iam_condition(kms: tuple[Any, str]) -> None:
    # Given the condition template.yaml puts on kms:GenerateDataKey and kms:Decrypt
    conditions = {
        statement["Condition"]["StringEquals"]["kms:EncryptionContext:purpose"]
        for function in resources("AWS::Serverless::Function").values()
        for policy in function["Properties"].get("Policies", [])
        for statement in policy.get("Statement", [])
        if str(statement.get("Action", "")).startswith("kms:")
    }

    # When the cipher encrypts and decrypts
    client, key_id = kms
    calls = KmsCalls(client)
    blob = UserDataCipher(lambda: client, key_id).encrypt("acme", "t-1", "x")
    UserDataCipher(lambda: client, key_id).decrypt("acme", "t-1", blob)

    # Then every call carries that purpose (else IAM would deny it), and the org
    assert len(conditions) == 1
    contexts = [params["EncryptionContext"] for _, params in calls.calls]
    assert contexts == [{"purpose": conditions.pop(), "org_id": "acme"}] * 2
