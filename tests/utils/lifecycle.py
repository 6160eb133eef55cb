"""Helpers for driving installs through the sandbox, shared by lifecycle, CLI, UI and concurrency tests.

``sandbox_tokens`` is the one way to list the tokens the sandbox issued (dicts with ``token``, ``hub_id``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from dashboard.actors import Actor
from dashboard.context import AppContext
from dashboard.hubspot.client import RetryPolicy
from dashboard.installs import flow as install
from dashboard.sandbox import SandboxServer

ADMIN = Actor("tester@example.com", "admin")

# Fast retries in tests: the behaviour is the same, only the waits are shorter.
FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05)


def grant(sandbox_url: str, authorize_url: str, *, account_id: int | None = None,
          decision: str = "grant") -> str:
    """Ask the sandbox's consent control where the browser would be sent; returns the callback URL."""
    body: dict[str, Any] = {"authorize_url": authorize_url, "decision": decision}
    if account_id is not None:
        body["account_id"] = account_id
    resp = httpx.post(f"{sandbox_url}/_sandbox/consent", json=body, timeout=10)
    resp.raise_for_status()
    return str(resp.json()["redirect_url"])


def install_portal(ctx: AppContext, sandbox_url: str, *, scopes: Sequence[str] = ("oauth", "crm.objects.contacts.read"),
                   optional: Sequence[str] = (), account_id: int | None = None) -> install.InstallResult:
    """A full install: start, consent at the sandbox, finish with the callback's parameters."""
    start = install.start_install(ctx, actor=ADMIN, scopes=scopes, optional_scopes=optional, account_id=account_id)
    callback = grant(sandbox_url, start.url, account_id=account_id)
    return install.finish_install(ctx, actor=ADMIN, params=install.callback_params(callback))


def add_accounts(sandbox_url: str, count: int, tier: str | None = None) -> list[int]:
    body: dict[str, Any] = {"count": count}
    if tier:
        body["tier"] = tier
    resp = httpx.post(f"{sandbox_url}/_sandbox/accounts", json=body, timeout=30)
    resp.raise_for_status()
    data = resp.json()
    accounts = data["accounts"] if isinstance(data, dict) else data
    return [int(a["hub_id"]) for a in accounts]


def stats(sandbox_url: str) -> dict[str, Any]:
    resp = httpx.get(f"{sandbox_url}/_sandbox/stats", timeout=10)
    resp.raise_for_status()
    return dict(resp.json())


def sandbox_tokens(sandbox_url: str, hub_id: int | None = None) -> list[dict[str, Any]]:
    url = f"{sandbox_url}/_sandbox/tokens" + (f"?hub_id={hub_id}" if hub_id is not None else "")
    resp = httpx.get(url, timeout=30)
    resp.raise_for_status()
    data = resp.json()
    return list(data["tokens"] if isinstance(data, dict) else data)


def control(sandbox_url: str, path: str, body: dict[str, Any]) -> Any:
    resp = httpx.post(f"{sandbox_url}/_sandbox/{path}", json=body, timeout=10)
    resp.raise_for_status()
    return resp.json() if resp.content else None


def sandbox_post(sandbox: SandboxServer, path: str, body: dict[str, Any]) -> Any:
    resp = httpx.post(f"{sandbox.url}{path}", json=body, timeout=10)
    resp.raise_for_status()
    return resp.json() if resp.content else None


def sandbox_get(sandbox: SandboxServer, path: str) -> Any:
    resp = httpx.get(f"{sandbox.url}{path}", timeout=10)
    resp.raise_for_status()
    return resp.json()
