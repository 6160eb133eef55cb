"""SQLModel tables: portals (and their granted scopes), install attempts, pending installs, audit events,
saved scope sets, worker heartbeats, API keys, sendable links, sign-outs; webhooks in ``webhook_models``.

Naming follows the full-stack FastAPI template where it applies: ``PortalBase`` holds the portal's
non-secret fields, ``Portal`` is the table. There are no ``XPublic`` models: what leaves the core is a
plain dataclass built by its service (``connections.Connection``, ``install_links.LinkPublic``, ...), never
token material; :class:`PortalUpdate` lists the columns a repository update may set. Scope lists are
stored space-joined (HubSpot's wire form: a scope filter is a ``LIKE``); times are aware UTC (UTCDateTime).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, SmallInteger, String, Text, false
from sqlmodel import Field, SQLModel

from dashboard import webhook_models as webhook_models  # registers the webhook tables with these

# Re-exported: callers and the Alembic revisions (``dashboard.models.UTCDateTime``) name them from here.
from dashboard.utc_datetime import UTCDateTime as UTCDateTime
from dashboard.utc_datetime import utc_column
from dashboard.utc_datetime import utcnow as utcnow


class PortalStatus(StrEnum):
    """Stored statuses (each a ``str``: stored, compared and printed as its value).

    The displayed status (``expiring``/``expired``) is derived from ``expires_at`` (:mod:`dashboard.status`).
    """

    ACTIVE = "active"
    REFRESH_FAILING = "refresh_failing"
    NEEDS_REAUTH = "needs_reauth"
    REVOKED = "revoked"
    UNINSTALLED = "uninstalled"  # the app was uninstalled from the account; kept for the audit trail


DEFAULT_APP = "default"
"""The app id of rows made before connections were keyed by (app, hub id), and ``DASHBOARD_APP_ID``'s default."""


class PortalBase(SQLModel):
    # A connection is one app's install in one HubSpot account: (app, hub_id). One app is configured today
    # (DASHBOARD_APP_ID); a second is configuration. ``app_id`` below is HubSpot's numeric id, as reported.
    app: str = Field(default=DEFAULT_APP, sa_column=Column(String(64), primary_key=True, nullable=False,
                                                          default=DEFAULT_APP))
    hub_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hub_domain: str | None = Field(default=None, max_length=255)
    app_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    installed_by: str | None = Field(default=None, max_length=320)
    user_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    requested_scopes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    requested_optional_scopes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    granted_scopes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default=PortalStatus.ACTIVE, max_length=32, index=True)


class Portal(PortalBase, table=True):
    """One connected HubSpot account. Token columns are Text: HubSpot says plan for 512 characters."""

    __tablename__ = "portal"
    __table_args__ = (
        Index("ix_portal_due", "status", "expires_at"),
        # The Connections page at 100,000 portals: counts, filters and the default order are ranges of these.
        # Few on purpose: each index on a column the refresh UPDATE sets costs every refresh a write (the
        # expires soonest order uses ix_portal_expires_at; the status runs use ix_portal_status).
        Index("ix_portal_view", "status", "expires_at", "hub_id", "last_refresh_result"),
        Index("ix_portal_status_result", "status", "last_refresh_result", "hub_id"),
        Index("ix_portal_domain_hub", "hub_domain", "hub_id", "installed_by"),  # also covers a search
        Index("ix_portal_installed_hub", "installed_at", "hub_id"),
    )

    access_token_ct: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    refresh_token_ct: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    key_id: str | None = Field(default=None, max_length=32, index=True)
    # Which associated data the ciphertexts are bound to (crypto.associated_data): 1 = hub id only (rows
    # written before apps), 2 = app and hub id. Written with the tokens; `keys rotate` rewrites to the newest.
    binding: int = Field(default=2, sa_column=Column(SmallInteger, nullable=False, default=2))
    token_fingerprint: str | None = Field(default=None, max_length=16)
    expires_at: datetime | None = utc_column(index=True)
    last_refresh_at: datetime | None = utc_column()
    last_refresh_result: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    consecutive_failures: int = Field(default=0)
    next_attempt_at: datetime | None = utc_column()
    # Set exactly while the health state is ``failing`` (dashboard/lifecycle/machine.py): since when.
    failing_since: datetime | None = utc_column()
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = utc_column()
    token_version: int = Field(default=0)
    installed_at: datetime | None = utc_column()
    revoked_at: datetime | None = utc_column()
    created_at: datetime | None = utc_column()
    updated_at: datetime | None = utc_column()


class PortalUpdate(TypedDict, total=False):
    """The portal columns a repository update may set (never the identity: app and hub id). mypy checks them;
    the repository also refuses unknown keys at run time (journal entries are read back from disk)."""

    hub_domain: str | None
    app_id: int | None
    installed_by: str | None
    user_id: int | None
    requested_scopes: str
    requested_optional_scopes: str
    granted_scopes: str
    status: str
    access_token_ct: str | None
    refresh_token_ct: str | None
    key_id: str | None
    token_fingerprint: str | None
    expires_at: datetime | None
    last_refresh_at: datetime | None
    last_refresh_result: str | None
    last_error: str | None
    consecutive_failures: int
    next_attempt_at: datetime | None
    failing_since: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    token_version: int
    binding: int
    installed_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


class PortalScope(SQLModel, table=True):
    """One granted scope of one portal: "has scope X" is an index lookup, not a substring scan of every row.

    Kept equal to ``Portal.granted_scopes`` by the repository functions that write that column.
    """

    __tablename__ = "portal_scope"
    __table_args__ = (Index("ix_portal_scope_app_hub_id", "app", "hub_id"),)

    app: str = Field(default=DEFAULT_APP, sa_column=Column(String(64), primary_key=True, nullable=False,
                                                          default=DEFAULT_APP))
    scope: str = Field(max_length=128, primary_key=True)
    hub_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class InstallAttempt(SQLModel, table=True):
    """A pending install. Only the SHA-256 of ``state`` is stored."""

    __tablename__ = "install_attempt"

    id: int | None = Field(default=None, primary_key=True)
    # The app of the connection this row is about (see Portal.app); the repository fills it from the session.
    app: str = Field(default=DEFAULT_APP, sa_column=Column(String(64), nullable=False, server_default=DEFAULT_APP))
    state_hash: str = Field(max_length=64, unique=True, index=True)
    required_scopes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    optional_scopes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    redirect_uri: str = Field(sa_column=Column(Text, nullable=False))
    account_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    actor: str = Field(max_length=320)
    created_at: datetime | None = utc_column()
    expires_at: datetime | None = utc_column(nullable=False)
    consumed_at: datetime | None = utc_column()
    # The sendable link this state was created from, if any (indexed: a link's live states are counted).
    link_id: int | None = Field(default=None, index=True)


class PendingInstall(SQLModel, table=True):
    """Tokens HubSpot granted for an install that could not be finished (its hub id or scopes unknown).

    The single-use code is spent, so the tokens are the grant: kept encrypted (bound to ``ref``) until a
    retry names the account, then moved to a portal row and this row deleted.
    """

    __tablename__ = "pending_install"

    id: int | None = Field(default=None, primary_key=True)
    # The app of the connection this row is about (see Portal.app); the repository fills it from the session.
    app: str = Field(default=DEFAULT_APP, sa_column=Column(String(64), nullable=False, server_default=DEFAULT_APP))
    ref: str = Field(max_length=32, unique=True, index=True)
    access_token_ct: str = Field(sa_column=Column(Text, nullable=False))
    refresh_token_ct: str = Field(sa_column=Column(Text, nullable=False))
    key_id: str = Field(max_length=32)
    hub_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    required_scopes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    optional_scopes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    actor: str = Field(max_length=320)
    attempts: int = Field(default=1)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    expires_at: datetime | None = utc_column(nullable=False)
    created_at: datetime | None = utc_column(nullable=False)
    updated_at: datetime | None = utc_column()


class AuditEvent(SQLModel, table=True):
    """One action, and the portal's timeline (dashboard/lifecycle/timeline.py): one store for both.

    ``detail`` is written by our code from safe parts; it never holds a secret. A HubSpot answer adds its
    fields (HTTP status, HubSpot's status, category, correlation id, redacted message capped at 2 KB), the
    call's duration and attempt; a state transition adds the states it went from and to.
    """

    __tablename__ = "audit_event"
    # ix_audit_hub_action_at: a portal's transitions (uptime, the state strip) and a timeline filtered by kind
    # read one range; without it SQLite walked the action index over every portal's transitions.
    __table_args__ = (Index("ix_audit_hub_at", "hub_id", "at"),
                      Index("ix_audit_hub_action_at", "hub_id", "action", "at"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = utc_column(nullable=False, index=True)
    # The app of the connection this row is about (see Portal.app); the repository fills it from the session.
    app: str = Field(default=DEFAULT_APP, sa_column=Column(String(64), nullable=False, server_default=DEFAULT_APP))
    actor: str = Field(max_length=320, index=True)
    hub_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    action: str = Field(max_length=64, index=True)
    outcome: str = Field(max_length=32, index=True)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    http_status: int | None = Field(default=None)
    hubspot_status: str | None = Field(default=None, max_length=64)
    hubspot_category: str | None = Field(default=None, max_length=64)
    correlation_id: str | None = Field(default=None, max_length=64)
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    duration_ms: int | None = Field(default=None)
    attempt: int | None = Field(default=None)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str | None = Field(default=None, max_length=32)
    # How many times the action happened in this row: 1, except for token API reads, counted per key, portal
    # and minute in one row (dashboard/tokens/reads.py).
    count: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class ScopeSetRecord(SQLModel, table=True):
    """A named scope set saved from the scope builder."""

    __tablename__ = "scope_set"
    __table_args__ = (Index("ix_scope_set_app_name", "app", "name", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    # A scope set belongs to an app (its scope builder); names are unique within the app.
    app: str = Field(default=DEFAULT_APP, sa_column=Column(String(64), nullable=False, server_default=DEFAULT_APP))
    name: str = Field(max_length=120, index=True)
    required: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    conditionally_required: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    optional: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_by: str = Field(default="", max_length=320)
    created_at: datetime | None = utc_column()
    updated_at: datetime | None = utc_column()


class WorkerHeartbeat(SQLModel, table=True):
    """One refresh worker (embedded in a dashboard server, or ``refresh --due --loop``): its last sweep.

    Written after every pass, so the pages can tell whether anything keeps the tokens fresh.
    """

    __tablename__ = "worker_heartbeat"

    worker_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(default="cli", max_length=16)
    host: str = Field(default="", max_length=255)
    pid: int = Field(default=0)
    interval_seconds: float = Field(default=60.0)
    started_at: datetime | None = utc_column()
    last_sweep_started_at: datetime | None = utc_column()
    last_sweep_ended_at: datetime | None = utc_column(index=True)
    last_refreshed: int = Field(default=0)
    last_failures: int = Field(default=0)
    total_sweeps: int = Field(default=0)
    total_refreshed: int = Field(default=0)
    total_failures: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    stopped_at: datetime | None = utc_column()


class ApiKey(SQLModel, table=True):
    """A service API key. Only the SHA-256 of the secret part is stored; ``prefix`` is its public id."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=32, unique=True, index=True)
    key_hash: str = Field(max_length=64)
    name: str = Field(max_length=120, index=True)
    role: str = Field(default="reader", max_length=16)
    # GET/HEAD only through the HubSpot proxy; existing keys keep every method (server default false).
    read_only: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False,
                                                            server_default=false()))
    # Portals the key may read: "app:hub_id" entries (bare hub ids, written before apps: the default app's).
    hub_ids: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The one app the key may act on; null: every app (keys made before apps).
    app: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_by: str = Field(default="", max_length=320)
    created_at: datetime | None = utc_column()
    expires_at: datetime | None = utc_column()
    last_used_at: datetime | None = utc_column()
    revoked_at: datetime | None = utc_column()


class InstallLink(SQLModel, table=True):
    """A link sent to a customer (``/connect/<opaque id>``); only the SHA-256 of the id is stored.

    Opening it creates a fresh ``state`` (10 minutes, single use), so the link may live for days while
    the state stays short-lived. Single install: ``used_at`` is set by the install it led to.
    """

    __tablename__ = "install_link"

    id: int | None = Field(default=None, primary_key=True)
    # The app of the connection this row is about (see Portal.app); the repository fills it from the session.
    app: str = Field(default=DEFAULT_APP, sa_column=Column(String(64), nullable=False, server_default=DEFAULT_APP))
    link_hash: str = Field(max_length=64, unique=True, index=True)
    purpose: str = Field(default="install", max_length=16)  # install | reconsent
    required_scopes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    optional_scopes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    account_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_by: str = Field(max_length=320)
    created_at: datetime | None = utc_column()
    expires_at: datetime | None = utc_column(nullable=False)
    used_at: datetime | None = utc_column()
    used_hub_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    revoked_at: datetime | None = utc_column()
    revoked_by: str | None = Field(default=None, max_length=320)
    # Opens are audited once a minute with a count (dashboard.installs.links): opens since the last event.
    opens_unaudited: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0, server_default="0"))
    open_audited_at: datetime | None = utc_column()


class UserSignOut(SQLModel, table=True):
    """A signed-in user's session epoch: bumped by "Sign out"; a sign-in cookie issued before
    ``signed_out_at`` is refused on every page, so a copied cookie stops working when its owner signs out."""

    __tablename__ = "user_sign_out"

    email: str = Field(primary_key=True, max_length=320)
    epoch: int = Field(default=0)
    signed_out_at: datetime | None = utc_column()


class AppCondition(SQLModel, table=True):
    """An app-wide condition shared by every replica: ``hubspot`` (degraded: the circuit breaker) and
    ``configuration`` (HubSpot refuses the app itself). ``probe_at`` is when the last probe refresh started
    (one at a time across replicas: a conditional UPDATE takes it)."""

    __tablename__ = "app_condition"

    app: str = Field(default=DEFAULT_APP, sa_column=Column(String(64), primary_key=True, nullable=False,
                                                          default=DEFAULT_APP))
    name: str = Field(max_length=64, primary_key=True)  # hubspot, configuration, key:<key id>
    active: bool = Field(default=False)
    since: datetime | None = utc_column()
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    probe_at: datetime | None = utc_column()
    probe_owner: str | None = Field(default=None, max_length=64)
    updated_at: datetime | None = utc_column()


class ApiUsage(SQLModel, table=True):
    """Proxied HubSpot calls of one minute, one portal and one API key, as one replica flushed them.

    Several rows may share (minute, hub, key): replicas flush their own counts; readers sum them (GROUP BY).
    ``latency_hist`` holds counts per latency bucket (dashboard/proxy/usage.py), so percentiles merge.
    """

    __tablename__ = "api_usage"
    __table_args__ = (Index("ix_api_usage_app_hub_minute", "app", "hub_id", "minute"),)

    id: int | None = Field(default=None, primary_key=True)
    app: str = Field(default=DEFAULT_APP, sa_column=Column(String(64), nullable=False, server_default=DEFAULT_APP))
    hub_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    minute: datetime | None = utc_column(nullable=False)
    key_prefix: str = Field(default="", max_length=32)
    calls: int = 0
    s2xx: int = 0
    s4xx: int = 0
    s5xx: int = 0
    limited_local: int = 0
    limited_hubspot: int = 0
    latency_hist: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
