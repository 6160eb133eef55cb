"""Encryption key status and rotation, shared by the CLI and the settings page.

Rotation re-encrypts rows to the primary key in small batches. Each row is rewritten by one conditional
UPDATE that only applies if the row still holds the ciphertext we read (same ``token_version``), so a
concurrent refresh is never overwritten, an interrupted run leaves every row readable with the key it
names, and a rerun simply continues. A row it cannot read (its key is not configured, or the ciphertext is
damaged) is left as it is and counted, naming its hub and key id: one bad row never blocks the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import repository
from dashboard.actors import Actor
from dashboard.errors import CryptoError, InputError, KeyNotFoundError
from dashboard.models import Portal, utcnow
from dashboard.security import audit, vault
from dashboard.security.crypto import BINDING_LATEST, TokenCipher
from dashboard.security.guard import require
from dashboard.storage.db import storage_errors
from dashboard.webhooks import endpoints


@dataclass(frozen=True)
class UnreadableRow:
    """A row whose tokens cannot be decrypted: ``reason`` is ``key_missing`` or ``undecryptable``."""

    hub_id: int
    key_id: str | None
    reason: str

    def describe(self) -> str:
        why = "its key is not configured" if self.reason == "key_missing" else "its ciphertext does not open"
        return f"hub {self.hub_id}: key id {self.key_id!r}, {why}"


def _try_open(cipher: TokenCipher, portal: Portal) -> vault.TokenPair | UnreadableRow:
    try:
        return vault.open_tokens(cipher, portal)
    except KeyNotFoundError:
        return UnreadableRow(portal.hub_id, portal.key_id, "key_missing")
    except CryptoError:
        return UnreadableRow(portal.hub_id, portal.key_id, "undecryptable")


def unreadable_rows(engine: Engine, cipher: TokenCipher, *, actor: Actor,
                    batch_size: int = 500) -> list[UnreadableRow]:
    """Every row holding tokens that this cipher cannot decrypt (each row is opened, a page at a time)."""
    require(engine, actor, "view", action="keys.status")
    found: list[UnreadableRow] = []
    after: int | None = None
    after_app = ""
    while True:
        with storage_errors(), Session(engine) as session:
            page = repository.portals_with_tokens(session=session, limit=batch_size, after_hub_id=after,
                                                  after_app=after_app)
        if not page:
            return found
        found.extend(r for r in (_try_open(cipher, p) for p in page) if isinstance(r, UnreadableRow))
        after, after_app = page[-1].hub_id, page[-1].app


@dataclass(frozen=True)
class KeyStatus:
    primary_key_id: str
    configured_key_ids: tuple[str, ...]
    rows_per_key: dict[str, int]
    # Rows whose ciphertexts are still bound the way before apps (hub id only); `keys rotate` rebinds them.
    old_binding: int = 0
    old_binding_on_primary: int = 0

    @property
    def unknown_key_ids(self) -> list[str]:
        """Key ids found in rows but not configured: those rows cannot be decrypted."""
        return sorted(k for k in self.rows_per_key if k not in self.configured_key_ids)

    @property
    def rows_to_rotate(self) -> int:
        return (sum(n for k, n in self.rows_per_key.items() if k != self.primary_key_id)
                + self.old_binding_on_primary)

    def table(self) -> list[KeyRow]:
        """One row per key id, configured or found in rows: the view ``keys status`` and Settings both show."""
        return [KeyRow(k, PRIMARY if k == self.primary_key_id else CONFIGURED if k in self.configured_key_ids
                       else NOT_CONFIGURED, self.rows_per_key.get(k, 0))
                for k in sorted(set(self.configured_key_ids) | set(self.rows_per_key))]


PRIMARY, CONFIGURED, NOT_CONFIGURED = "primary", "configured", "NOT CONFIGURED"


@dataclass(frozen=True)
class KeyRow:
    key_id: str
    role: str  # PRIMARY, CONFIGURED or NOT_CONFIGURED (rows on it cannot be decrypted)
    rows: int


@dataclass(frozen=True)
class RotationResult:
    rotated: int
    skipped_concurrent: int
    remaining: int
    unreadable: tuple[UnreadableRow, ...] = ()


def key_status(engine: Engine, cipher: TokenCipher, *, actor: Actor) -> KeyStatus:
    require(engine, actor, "view", action="keys.status")
    with storage_errors(), Session(engine) as session:
        counts = repository.rows_per_key(session=session)
        old, old_on_primary = repository.rows_on_old_binding(session=session, binding=BINDING_LATEST,
                                                             primary_key_id=cipher.primary_key_id)
    return KeyStatus(cipher.primary_key_id, cipher.key_ids, counts, old, old_on_primary)


def check_primary_key(engine: Engine, cipher: TokenCipher) -> None:
    """Before any write: the primary key opens a row that names it (a different key under the same id
    would make rotated rows unreadable beside the ones already on it). :class:`CryptoError` otherwise."""
    with storage_errors(), Session(engine) as session:
        sample = repository.first_portal_on_key(session=session, key_id=cipher.primary_key_id)
    if sample is not None:
        vault.open_tokens(cipher, sample)


def rotate_keys(
    engine: Engine, cipher: TokenCipher, *, actor: Actor, batch_size: int = 100,
    on_batch: Callable[[int], None] | None = None,
) -> RotationResult:
    """Re-encrypt every row (of every app) to the primary key and the newest binding (crypto.associated_data).

    A wrong primary key is refused before any write. Rows that cannot be read (key missing, ciphertext
    damaged) are skipped and returned in ``unreadable``; the run pages past them by hub id, so it ends.
    """
    require(engine, actor, "keys", action="keys.rotate")
    if batch_size < 1:
        raise InputError("batch size must be at least 1")
    check_primary_key(engine, cipher)
    primary = cipher.primary_key_id
    rotated = skipped = 0
    unreadable: list[UnreadableRow] = []
    after: int | None = None
    after_app = ""
    while True:
        with storage_errors(), Session(engine) as session:
            batch = repository.portals_not_on_key(session=session, key_id=primary, limit=batch_size,
                                                  after_hub_id=after, after_app=after_app,
                                                  binding=BINDING_LATEST)
            if not batch:
                break
            after, after_app = batch[-1].hub_id, batch[-1].app
            for portal in batch:
                tokens = _try_open(cipher, portal)
                if isinstance(tokens, UnreadableRow):
                    unreadable.append(tokens)
                    continue
                ok = repository.update_portal_if_version(
                    session=session, hub_id=portal.hub_id, version=portal.token_version, app=portal.app,
                    values={**vault.seal(cipher, portal.hub_id, tokens, app=portal.app), "updated_at": utcnow()},
                )
                if ok:
                    rotated += 1
                else:  # refreshed meanwhile: the refresh already wrote it with the primary key
                    skipped += 1
            session.commit()
        if on_batch is not None:
            on_batch(rotated)
    with storage_errors(), Session(engine) as session:
        resealed = endpoints.reseal_secrets(session, cipher)  # webhook signing secrets follow the tokens
        session.commit()
    status = key_status(engine, cipher, actor=actor)
    with storage_errors(), Session(engine) as session:
        audit.record(session, actor=actor.name, action="keys.rotate", outcome="failure" if unreadable else "success",
                     detail=f"rotated={rotated} to key {primary}; remaining={status.rows_to_rotate}; "
                     f"unreadable={len(unreadable)}; webhook secrets re-encrypted={resealed}")
        session.commit()
    return RotationResult(rotated=rotated, skipped_concurrent=skipped, remaining=status.rows_to_rotate,
                          unreadable=tuple(unreadable))
