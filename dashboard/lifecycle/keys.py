"""Key problems are one problem per key id, not one per portal, and not HubSpot's.

Once per sweep, :func:`check_keys` looks at each key id the rows are sealed with (one ``GROUP BY``): a key
id the configured keys lack is *missing*; its rows are left out of the pass (nothing could open them, so
no attempt, no audit row, no backoff). A key id whose rows fail to decrypt is *undecryptable*: within a pass
at most :data:`TRIES_PER_KEY` of its rows are tried (:class:`PassKeys`); after that many failures and no
success the rest of that key's rows are skipped for the pass. Either way the key gets one app-wide
condition (``key:<id>``): audited and alerted once when it starts and once when it ends. When the key is
readable again the condition ends and every portal held back by it is due at once (no backoff meant for
HubSpot failures).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from dashboard import repository
from dashboard.context import AppContext
from dashboard.models import utcnow
from dashboard.webhooks import alerts

PREFIX = "key:"
TRIES_PER_KEY = 3


def _set(ctx: AppContext, key_id: str, active: bool, reason: str, *, actor: str) -> bool:
    now = utcnow()
    with ctx.session() as session, ctx.writing():
        changed = repository.set_condition(session=session, name=PREFIX + key_id, active=active, now=now,
                                           reason=reason)
        if changed:
            repository.insert_audit_event(session=session, at=now, actor=actor[:320], hub_id=None,
                                          action="condition.key", outcome="on" if active else "off",
                                          detail=f"key {key_id!r}: {reason}"[:1000])
            if not active:
                repository.release_key_backoff(session=session, key_id=key_id)
        session.commit()
    if changed:
        alerts.send_app_alert(ctx, event="key_problem" if active else "key_fixed", detail=f"key {key_id!r}: {reason}")
    return changed


def check_keys(ctx: AppContext, *, actor: str) -> list[str]:
    """The key ids missing from the configuration (their rows sit out this pass); starts and ends the
    key conditions accordingly."""
    with ctx.session() as session:
        per_key = repository.rows_per_key(session=session)
        on = {c.name[len(PREFIX):]: c for c in repository.active_conditions(session=session, prefix=PREFIX)}
    configured = set(ctx.cipher.key_ids)
    missing = sorted(k for k in per_key if k not in configured)
    for key_id in missing:
        _set(ctx, key_id, True, f"the key is not configured: {per_key[key_id]} portal(s) cannot be refreshed; "
             "add it back to DASHBOARD_ENCRYPTION_KEYS (the next sweep refreshes them) or reinstall them",
             actor=actor)
    for key_id, condition in on.items():
        if key_id in configured and condition.reason.startswith("the key is not configured"):
            _set(ctx, key_id, False, "the key is configured again", actor=actor)
        elif key_id not in per_key:
            _set(ctx, key_id, False, "no portal is sealed with this key any more", actor=actor)
    return missing


@dataclass
class PassKeys:
    """Per pass: decrypt failures and successes per key id, so an unreadable key costs a few tries, not N."""

    ctx: AppContext
    actor: str
    failures: dict[str, int] = field(default_factory=dict)
    opened: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def skip(self, key_id: str | None) -> bool:
        with self.lock:
            return key_id is not None and key_id not in self.opened and \
                self.failures.get(key_id, 0) >= TRIES_PER_KEY

    def failed(self, key_id: str | None) -> None:
        if key_id is None:
            return
        with self.lock:
            self.failures[key_id] = self.failures.get(key_id, 0) + 1
            now_bad = key_id not in self.opened and self.failures[key_id] == TRIES_PER_KEY
        if now_bad:
            _set(self.ctx, key_id, True, f"{TRIES_PER_KEY} portals sealed with it failed to decrypt; restore the "
                 "key that wrote them or reinstall them", actor=self.actor)

    def succeeded(self, key_id: str | None) -> None:
        if key_id is None:
            return
        with self.lock:
            first = key_id not in self.opened
            self.opened.add(key_id)
        if first:
            with self.ctx.session() as session:
                cond = repository.get_condition(session=session, name=PREFIX + key_id)
            if cond is not None and cond.active:
                _set(self.ctx, key_id, False, "rows sealed with it decrypt again", actor=self.actor)
