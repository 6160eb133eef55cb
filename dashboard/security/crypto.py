"""AES-256-GCM encryption of tokens at rest, with key ids and rotation.

``DASHBOARD_ENCRYPTION_KEYS`` holds one or more comma-separated ``key_id:base64-of-32-bytes`` entries.
The first key encrypts; every key decrypts. Each value gets a fresh 96-bit nonce, and the associated
data binds the ciphertext to its portal and field, so a ciphertext copied into another row (or into
the other token column) fails to decrypt. Stored form: ``base64(nonce || ciphertext+tag)``; the key id
is stored in its own column beside it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dashboard.errors import ConfigurationError, CryptoError, KeyNotFoundError
from dashboard.storage.file_modes import private_dir, private_file

log = logging.getLogger(__name__)

SETTING = "DASHBOARD_ENCRYPTION_KEYS"
NONCE_BYTES = 12
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


BINDING_V1 = 1
BINDING_V2 = 2
BINDING_LATEST = BINDING_V2


def associated_data(hub_id: int, field: str, *, app: str | None = None, binding: int = BINDING_V1) -> bytes:
    """What each ciphertext is bound to: its connection and its column.

    Version 1 (rows written before connections had an app) names the hub id only; version 2 names the app
    too, so a ciphertext copied to the same account under another app fails to decrypt. The versions'
    prefixes differ, so no version-1 text equals a version-2 one. The row stores its version.
    """
    if binding == BINDING_V1:
        return f"hubspot-portal:{hub_id}:{field}".encode()
    if binding == BINDING_V2 and app:
        return f"hubspot-portal-v2:{app}:{hub_id}:{field}".encode()
    raise CryptoError(f"unknown token binding version {binding!r} (or no app for version 2)")


def generate_key_entry(key_id: str | None = None) -> str:
    """A new ``key_id:base64`` entry for ``DASHBOARD_ENCRYPTION_KEYS``."""
    kid = key_id or "k" + secrets.token_hex(4)
    if not _KEY_ID.match(kid):
        raise ConfigurationError(f"key id {kid!r}: use 1-32 letters, digits, '.', '_' or '-'")
    return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


@dataclass(frozen=True)
class KeyRing:
    """Ordered keys: ``primary`` encrypts, all decrypt. ``repr`` shows key ids only."""

    _keys: tuple[tuple[str, bytes], ...]

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={list(self.key_ids)!r})"

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self._keys)

    @property
    def primary(self) -> str:
        return self._keys[0][0]

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """Parse the setting; every problem is one line naming the setting and the entry number."""
        entries = [e.strip() for e in text.split(",") if e.strip()]
        if not entries:
            raise ConfigurationError(f"{SETTING}: is empty; generate a key with `python -m dashboard keys generate`")
        keys: list[tuple[str, bytes]] = []
        for n, entry in enumerate(entries, start=1):
            kid, sep, b64 = entry.partition(":")
            kid = kid.strip()
            if not sep or not _KEY_ID.match(kid):
                raise ConfigurationError(
                    f"{SETTING}: entry {n} is not 'key_id:base64-of-32-bytes' "
                    "(key id: 1-32 letters, digits, '.', '_' or '-')"
                )
            try:
                raw = base64.b64decode(b64.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise ConfigurationError(f"{SETTING}: key {kid!r} is not valid base64") from None
            if len(raw) != KEY_BYTES:
                raise ConfigurationError(
                    f"{SETTING}: key {kid!r} is {len(raw)} bytes; AES-256 needs exactly 32 "
                    "(generate one with `python -m dashboard keys generate`)"
                )
            if any(k == kid for k, _ in keys):
                raise ConfigurationError(f"{SETTING}: key id {kid!r} appears twice; key ids must be unique")
            keys.append((kid, raw))
        return cls(tuple(keys))


class TokenCipher:
    """Encrypts and decrypts token strings with a :class:`KeyRing`."""

    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring
        self._aead = {kid: AESGCM(raw) for kid, raw in keyring._keys}

    def __repr__(self) -> str:
        return f"TokenCipher(key_ids={list(self.key_ids)!r})"

    @property
    def key_ids(self) -> tuple[str, ...]:
        return self._keyring.key_ids

    @property
    def primary_key_id(self) -> str:
        return self._keyring.primary

    def encrypt(self, plaintext: str, *, aad: bytes) -> tuple[str, str]:
        """Return ``(key_id, stored_text)`` using the primary key and a fresh nonce."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self.primary_key_id].encrypt(nonce, plaintext.encode(), aad)
        return self.primary_key_id, base64.b64encode(nonce + sealed).decode()

    def decrypt(self, key_id: str, stored: str, *, aad: bytes) -> str:
        """Decrypt; any failure is a :class:`CryptoError` that names the key id, never the value."""
        aead = self._aead.get(key_id)
        if aead is None:
            raise KeyNotFoundError(
                f"token encrypted with key id {key_id!r}, which is not in {SETTING}; "
                "add that key back (it may stay second in the list)"
            )
        try:
            blob = base64.b64decode(stored, validate=True)
            if len(blob) < NONCE_BYTES + 16:
                raise ValueError("too short")
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad).decode()
        except (InvalidTag, binascii.Error, ValueError, UnicodeDecodeError):
            raise CryptoError(
                f"a stored token failed to decrypt with key id {key_id!r}: the key is wrong "
                "or the ciphertext was altered or moved from another row"
            ) from None


def sandbox_key_file(data_dir: Path) -> Path:
    return data_dir / "sandbox-encryption.key"


def load_or_create_sandbox_key(data_dir: Path) -> str:
    """Sandbox mode only: a key generated once into a 0600 file, with a warning that says so."""
    path = sandbox_key_file(data_dir)
    if path.is_file():
        private_file(path)
        return path.read_text(encoding="utf-8").strip()
    private_dir(data_dir)
    entry = generate_key_entry("sandbox")
    # Write a private temp file, then publish it with link(), which fails if the key exists: two
    # processes starting at once never write two keys, and no reader ever sees a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(entry + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip()
    finally:
        tmp.unlink(missing_ok=True)
    log.warning(
        "sandbox mode: generated an encryption key into %s (mode 0600); set %s before using real HubSpot",
        path, SETTING,
    )
    return entry


def build_cipher(keys_text: str | None, *, sandbox_mode: bool, data_dir: Path) -> TokenCipher:
    """The cipher from settings: configured keys, else (sandbox only) the generated key file."""
    if keys_text and keys_text.strip():
        return TokenCipher(KeyRing.parse(keys_text))
    if not sandbox_mode:
        raise ConfigurationError(
            f"{SETTING}: required when HUBSPOT_CLIENT_ID is set; "
            "generate one with `python -m dashboard keys generate`"
        )
    return TokenCipher(KeyRing.parse(load_or_create_sandbox_key(data_dir)))
