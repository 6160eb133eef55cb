"""What the sandbox is configured with: the app (client, redirect URIs, scope settings) and the accounts.

``SandboxConfig`` is what callers build; the server copies the runtime-changeable parts into its state, so
``POST /_sandbox/config`` and ``POST /_sandbox/reset`` never mutate the caller's object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import unknown_scopes

SANDBOX_CLIENT_ID = "5a4db0c1-c11e-4a1d-8000-000000000001"
"""The sandbox app's client id (UUID-shaped like HubSpot's). Safe to print and to commit."""

SANDBOX_CLIENT_SECRET = "5a4db0c1-5ec2-4e70-8000-000000000002"  # noqa: S105 - a published placeholder
"""The sandbox app's client secret. A placeholder on purpose: it only ever unlocks the local sandbox."""

DEFAULT_REDIRECT_URI = "http://localhost:8501/install"
"""Where the dashboard's install page listens under ``streamlit run`` defaults."""

SCOPE_KINDS = ("required", "conditionally_required", "optional")


@dataclass(frozen=True)
class SandboxAccount:
    """A HubSpot account (portal) the app can be installed on.

    ``tier`` uses the sandbox's tier language (see ``tiers.py`` and docs/sandbox.md), e.g. ``"free"``,
    ``"marketing-professional"``, ``"sales-starter+service-professional"`` or ``"enterprise"``.
    """

    hub_id: int
    domain: str
    tier: str = "free"

    @property
    def name(self) -> str:
        """A display name derived from the domain: ``acme-corp.hubspot.com`` -> ``Acme Corp``."""
        label = self.domain.split(".", 1)[0]
        return " ".join(part.capitalize() for part in label.replace("_", "-").split("-") if part)

    @property
    def user_id(self) -> int:
        """The installing user's id: deterministic per account and within int32, like HubSpot's."""
        return 10_000_000 + (self.hub_id * 7919) % 90_000_000

    @property
    def user_email(self) -> str:
        """The installing user's email, reported as ``user`` by the metadata endpoints."""
        return f"admin@{self.domain}"

    def to_json(self) -> dict[str, Any]:
        """The JSON shape used by the ``/_sandbox/accounts`` controls."""
        return {
            "hub_id": self.hub_id,
            "domain": self.domain,
            "tier": self.tier,
            "name": self.name,
            "user_id": self.user_id,
            "user": self.user_email,
        }


def default_accounts() -> list[SandboxAccount]:
    """Three accounts covering the tier rules: a free portal, Marketing Hub Professional, all-Enterprise."""
    return [
        SandboxAccount(1000001, "acme-corp.hubspot.com", "free"),
        SandboxAccount(1000002, "globex.hubspot.com", "marketing-professional"),
        SandboxAccount(1000003, "initech.hubspot.com", "enterprise"),
    ]


@dataclass(frozen=True)
class AppScopes:
    """The app's scope settings under HubSpot's rules since Oct 2024 (fact sheet §1, CL-SCOPES)."""

    required: tuple[str, ...] = ()
    conditionally_required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: object) -> AppScopes:
        """Build from ``{"required": [...], "conditionally_required": [...], "optional": [...]}``.

        Raises ``ValueError`` for a shape we cannot read, a name HubSpot's catalog does not know (HubSpot's
        settings page only offers catalog scopes), or a scope listed under two kinds (each has one kind).
        """
        if not isinstance(data, dict):
            raise ValueError("app scopes must be a JSON object with required/conditionally_required/optional")
        unknown = set(data) - set(SCOPE_KINDS)
        if unknown:
            raise ValueError(f"unknown app scope keys: {', '.join(sorted(unknown))}")
        lists: dict[str, tuple[str, ...]] = {}
        for kind in SCOPE_KINDS:
            values = data.get(kind, [])
            if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
                raise ValueError(f"app scopes '{kind}' must be a list of scope names")
            lists[kind] = tuple(dict.fromkeys(values))
        seen: set[str] = set()
        for kind in SCOPE_KINDS:
            twice = seen & set(lists[kind])
            if twice:
                raise ValueError(f"scope listed under two kinds: {', '.join(sorted(twice))}")
            seen |= set(lists[kind])
        not_in_catalog = unknown_scopes(seen)
        if not_in_catalog:
            raise ValueError(f"unknown scope names in app scopes: {', '.join(not_in_catalog)}")
        return cls(lists["required"], lists["conditionally_required"], lists["optional"])

    def to_json(self) -> dict[str, list[str]]:
        """The JSON shape accepted by :meth:`from_json`."""
        return {
            "required": list(self.required),
            "conditionally_required": list(self.conditionally_required),
            "optional": list(self.optional),
        }

    def all_names(self) -> set[str]:
        """Every scope the settings mention."""
        return {*self.required, *self.conditionally_required, *self.optional}


def load_app_scopes_file(path: str | Path) -> dict[str, list[str]]:
    """Read an ``--app-scopes`` JSON file; ``ValueError`` if it is not valid settings."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read app scopes file {path}: {exc}") from exc
    return AppScopes.from_json(data).to_json()


@dataclass
class SandboxConfig:
    """Everything the sandbox HubSpot is started with.

    ``app_scopes`` is ``None`` for permissive settings (``oauth`` required, any catalog scope accepted in
    ``scope`` or ``optional_scope``), or a dict with ``required`` / ``conditionally_required`` / ``optional``
    lists for HubSpot's strict matching. ``port=0`` picks a free port. ``code_ttl`` may be fractional so
    tests can expire a code quickly. (The sign-in provider for offline ``st.login`` is test tooling:
    ``devtools/oidc/``, not part of the sandbox.)

    Defaults follow HubSpot's documents (``fidelity.py``): no refresh-token rotation (HubSpot's refresh guide
    reuses the install's refresh token), token bodies as each version's guide shows them
    (``rich_token_body`` adds every optional field), a refresh of an uninstalled app answers
    ``BAD_REFRESH_TOKEN`` (``uninstall_mode="bad_hub"`` answers ``BAD_HUB``), and revoking a dead token
    succeeds (``revoke_dead_token_status`` 400/401/404 answers that error instead).
    """

    host: str = "127.0.0.1"
    port: int = 0
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: str = SANDBOX_CLIENT_SECRET
    redirect_uris: list[str] = field(default_factory=lambda: [DEFAULT_REDIRECT_URI])
    app_scopes: dict[str, list[str]] | None = None
    access_token_ttl: int = 1800
    code_ttl: float = 30
    rotate_refresh_tokens: bool = False
    rotation_grace_s: float = 0.0
    rich_token_body: bool = False
    uninstall_mode: str = "bad_refresh_token"
    revoke_dead_token_status: int = 200
    latency_ms: int = 0
    app_name: str = "HubSpot OAuth Dashboard (sandbox)"
    app_id: int = 4_200_001
    accounts: list[SandboxAccount] = field(default_factory=default_accounts)
