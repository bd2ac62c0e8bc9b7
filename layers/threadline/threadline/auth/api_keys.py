"""API key format, generation and hashing.

A key reads ``tl_<key id>_<secret>``: the ``tl_`` prefix and the key id make it
recognisable (in logs, secret scanners, the key list); the secret is 32 random
bytes. Only the SHA-256 of the whole key is stored: a key has 256 bits of
entropy, so a fast hash is enough, and it lets the authorizer find the key
with one GetItem.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from threadline.models.api_keys import PREFIX

KEY_PATTERN = re.compile(r"^tl_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
ORG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
SCOPES = ("read", "write")


def generate_key() -> tuple[str, str]:
    """A new (key id, full key). The full key is shown once and never stored."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    key_id = "".join(secrets.choice(alphabet) for _ in range(12))
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_bearer(header: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header, if well formed."""
    if not header:
        return None
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not KEY_PATTERN.match(key):
        return None
    return key
