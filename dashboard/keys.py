"""Encryption key status and rotation, shared by the CLI and the settings page.

Rotation re-encrypts rows to the primary key in small batches. Each row is rewritten by one conditional
UPDATE that only applies if the row still holds the ciphertext we read (same ``token_version``), so a
concurrent refresh is never overwritten, an interrupted run leaves every row readable with the key it
names, and a rerun simply continues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import audit, repository, vault
from dashboard.crypto import TokenCipher
from dashboard.errors import InputError, KeyNotFoundError
from dashboard.models import utcnow


@dataclass(frozen=True)
class KeyStatus:
    primary_key_id: str
    configured_key_ids: tuple[str, ...]
    rows_per_key: dict[str, int]

    @property
    def unknown_key_ids(self) -> list[str]:
        """Key ids found in rows but not configured: those rows cannot be decrypted."""
        return sorted(k for k in self.rows_per_key if k not in self.configured_key_ids)

    @property
    def rows_to_rotate(self) -> int:
        return sum(n for k, n in self.rows_per_key.items() if k != self.primary_key_id)


@dataclass(frozen=True)
class RotationResult:
    rotated: int
    skipped_concurrent: int
    remaining: int


def key_status(engine: Engine, cipher: TokenCipher) -> KeyStatus:
    with Session(engine) as session:
        counts = repository.rows_per_key(session=session)
    return KeyStatus(cipher.primary_key_id, cipher.key_ids, counts)


def check_keys(engine: Engine, cipher: TokenCipher) -> None:
    """Before any write: every key id found in rows is configured and opens a row it names.

    Raises :class:`KeyNotFoundError` / :class:`CryptoError` naming the key id.
    """
    status = key_status(engine, cipher)
    if status.unknown_key_ids:
        ids = ", ".join(repr(k) for k in status.unknown_key_ids)
        raise KeyNotFoundError(
            f"rows are encrypted with key id(s) {ids}, not in DASHBOARD_ENCRYPTION_KEYS; "
            "add those keys back (they may stay after the first) and run again"
        )
    with Session(engine) as session:
        for key_id in sorted(status.rows_per_key):
            sample = repository.first_portal_on_key(session=session, key_id=key_id)
            if sample is not None:
                vault.open_tokens(cipher, sample)  # a wrong key under a known id fails here


def rotate_keys(
    engine: Engine, cipher: TokenCipher, *, actor: str, batch_size: int = 100,
    on_batch: Callable[[int], None] | None = None,
) -> RotationResult:
    """Re-encrypt every row to the primary key.

    A missing or wrong key is found by :func:`check_keys` before any write; a single damaged row stops
    the run at its batch (earlier batches stay committed, and stay readable).
    """
    if batch_size < 1:
        raise InputError("batch size must be at least 1")
    check_keys(engine, cipher)
    primary = cipher.primary_key_id
    rotated = skipped = 0
    seen_conflicts: set[int] = set()
    while True:
        with Session(engine) as session:
            batch = repository.portals_not_on_key(session=session, key_id=primary, limit=batch_size)
            batch = [p for p in batch if p.hub_id not in seen_conflicts]
            if not batch:
                break
            for portal in batch:
                tokens = vault.open_tokens(cipher, portal)  # raises CryptoError naming the key id
                ok = repository.update_portal_if_version(
                    session=session, hub_id=portal.hub_id, version=portal.token_version,
                    values={**vault.seal(cipher, portal.hub_id, tokens), "updated_at": utcnow()},
                )
                if ok:
                    rotated += 1
                else:  # refreshed meanwhile: the refresh already wrote it with the primary key
                    skipped += 1
                    seen_conflicts.add(portal.hub_id)
            session.commit()
        if on_batch is not None:
            on_batch(rotated)
    status = key_status(engine, cipher)
    with Session(engine) as session:
        audit.record(session, actor=actor, action="keys.rotate", outcome="success",
                     detail=f"rotated={rotated} to key {primary}; remaining={status.rows_to_rotate}")
        session.commit()
    return RotationResult(rotated=rotated, skipped_concurrent=skipped, remaining=status.rows_to_rotate)
