"""Envelope encryption of ``user_data`` with a KMS key, before it reaches DynamoDB.

Each blob is AES-256-GCM under a data key that KMS generated and wrapped. The
additional authenticated data binds a blob to its org and thread, so a blob
copied onto another thread does not decrypt. A warm process reuses one data
key per org for a bounded time and number of messages (as the AWS Encryption
SDK's caching does), and caches unwrapped keys, so a listed page of threads
costs a few KMS calls, not one per thread.

Blob layout: ``b"\\x01" | len(wrapped key) (2 bytes) | wrapped key | nonce (12) | ciphertext+tag``.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from threadline.errors import UndecryptableError

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

_VERSION = b"\x01"
_NONCE_BYTES = 12
DATA_KEY_MAX_AGE_SECONDS = 300.0
DATA_KEY_MAX_MESSAGES = 1000
_UNWRAPPED_CACHE_SIZE = 256
# What KMS answers for a wrapped key that is not one of its ciphertexts (for this context).
_UNREADABLE_KMS_ERRORS = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


@dataclass
class _DataKey:
    plaintext: bytes
    wrapped: bytes
    created: float
    uses: int = 0


class UserDataCipher:
    """Encrypts and decrypts ``user_data`` strings for one KMS key."""

    def __init__(self, kms: Callable[[], KMSClient], key_id: str) -> None:
        # A factory, not a client: most requests touch no user_data and never need KMS.
        self._kms = kms
        self._key_id = key_id
        self._data_keys: dict[str, _DataKey] = {}
        self._unwrapped: OrderedDict[bytes, bytes] = OrderedDict()
        # Guards the two caches (not the KMS calls): the local server runs requests on threads.
        self._lock = threading.Lock()

    def encrypt(self, org_id: str, thread_id: str, plaintext: str | bytes) -> bytes:
        """Encrypt ``plaintext`` (text, or bytes) for one thread of one org."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self._data_key(org_id)
        nonce = os.urandom(_NONCE_BYTES)
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        sealed = AESGCM(key.plaintext).encrypt(nonce, data, _aad(org_id, thread_id))
        return _VERSION + struct.pack(">H", len(key.wrapped)) + key.wrapped + nonce + sealed

    def decrypt(self, org_id: str, thread_id: str, blob: bytes) -> str:
        """Decrypt a blob of text made by :meth:`encrypt` for the same org and thread (see
        :meth:`decrypt_bytes`)."""
        try:
            return self.decrypt_bytes(org_id, thread_id, blob).decode()
        except UnicodeDecodeError as error:
            raise UndecryptableError(f"The user_data of thread {thread_id} cannot be decrypted") from error

    def decrypt_bytes(self, org_id: str, thread_id: str, blob: bytes) -> bytes:
        """Decrypt a blob made by :meth:`encrypt` for the same org and thread.

        A blob that cannot be opened (corrupt, truncated, of another thread or org, or whose data
        key KMS refuses as ciphertext) raises ``UndecryptableError``; KMS being unavailable or
        throttling raises its own error, which a retry may cure."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        unreadable = UndecryptableError(f"The user_data of thread {thread_id} cannot be decrypted")
        if blob[:1] != _VERSION or len(blob) < 3:
            raise unreadable
        (wrapped_length,) = struct.unpack(">H", blob[1:3])
        wrapped = blob[3 : 3 + wrapped_length]
        nonce = blob[3 + wrapped_length : 3 + wrapped_length + _NONCE_BYTES]
        sealed = blob[3 + wrapped_length + _NONCE_BYTES :]
        if len(nonce) != _NONCE_BYTES or not wrapped:
            raise unreadable
        try:
            key = self._unwrap(org_id, wrapped)
            return AESGCM(key).decrypt(nonce, sealed, _aad(org_id, thread_id))
        except (InvalidTag, ValueError) as error:
            raise unreadable from error
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            if code in _UNREADABLE_KMS_ERRORS:
                raise unreadable from error
            raise

    def _data_key(self, org_id: str) -> _DataKey:
        with self._lock:
            key = self._data_keys.get(org_id)
            if (
                key is not None
                and key.uses < DATA_KEY_MAX_MESSAGES
                and time.monotonic() - key.created < DATA_KEY_MAX_AGE_SECONDS
            ):
                key.uses += 1
                return key
        reply = self._kms().generate_data_key(KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=_context(org_id))
        key = _DataKey(reply["Plaintext"], reply["CiphertextBlob"], time.monotonic(), uses=1)
        with self._lock:
            self._data_keys[org_id] = key
        return key

    def _unwrap(self, org_id: str, wrapped: bytes) -> bytes:
        cache_key = org_id.encode() + b"\x00" + wrapped
        with self._lock:
            cached = self._unwrapped.get(cache_key)
            if cached is not None:
                self._unwrapped.move_to_end(cache_key)
                return cached
        plaintext = self._kms().decrypt(CiphertextBlob=wrapped, EncryptionContext=_context(org_id))["Plaintext"]
        with self._lock:
            self._unwrapped[cache_key] = plaintext
            while len(self._unwrapped) > _UNWRAPPED_CACHE_SIZE:
                self._unwrapped.popitem(last=False)
        return plaintext


def _context(org_id: str) -> dict[str, str]:
    return {"purpose": "threadline:user_data", "org_id": org_id}


def _aad(org_id: str, thread_id: str) -> bytes:
    return f"{org_id}/{thread_id}".encode()
