"""Typed settings, read from environment variables and `.streamlit/secrets.toml`.

Settings are built by :func:`load_settings`, never at import time. Every rule failure becomes one
:class:`~dashboard.errors.ConfigurationError` line that names the setting and says how to fix it.
Secrets are ``SecretStr``: they never appear in ``repr``, logs or error text.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from dashboard.apps.config import AppSettings, check_distinct, load_app_tables
from dashboard.apps.urls import PLACEHOLDER_SECRETS as PLACEHOLDER_SECRETS
from dashboard.apps.urls import check_base_url
from dashboard.apps.urls import check_redirect_uri as check_redirect_uri
from dashboard.errors import ConfigurationError, RedirectUriError, UnknownAppError

OAuthApi = Literal["2026-03", "v3", "v1"]
DEFAULT_REDIRECT_URI = "http://localhost:8501/install"
DEFAULT_SECRETS_PATH = Path(".streamlit/secrets.toml")
class Settings(BaseSettings):
    """Every setting of the dashboard. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    hubspot_client_id: str | None = None
    hubspot_client_secret: SecretStr | None = None
    hubspot_redirect_uri: str = DEFAULT_REDIRECT_URI
    hubspot_app_base_url: str = "https://app.hubspot.com"
    hubspot_api_base_url: str = "https://api.hubapi.com"
    hubspot_oauth_api: OAuthApi = "2026-03"
    hubspot_app_scopes_file: Path | None = None
    # Which app this dashboard's connections belong to: a connection is (app, hub id). One app today; rows
    # made before apps existed belong to "default". Changing it on a running install hides the other app's
    # connections (and their tokens stay bound to their app): pick it once.
    dashboard_app_id: str = "default"
    # Several apps: [apps.<id>] tables in secrets.toml, or in this TOML file (dashboard/apps/config.py). The
    # single-app settings above stay one app among them (named DASHBOARD_APP_ID).
    dashboard_apps_file: Path | None = None
    app_tables: tuple[AppSettings, ...] = Field(default=(), repr=False)

    # repr=False: a PostgreSQL URL may carry a password.
    dashboard_database_url: str = Field(default="sqlite:///data/dashboard.db", repr=False)
    dashboard_encryption_keys: SecretStr | None = None
    dashboard_lock_url: SecretStr | None = None
    dashboard_lock_prefix: str = "hubspot-dashboard:"
    dashboard_refresh_leeway_seconds: int = Field(default=300, ge=0, le=86_400)
    dashboard_http_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The whole of one refresh grant or code exchange, retries included. Longer than other calls: a token
    # call that times out may have been used by HubSpot, and is then never sent again with the same token.
    dashboard_token_timeout_seconds: float = Field(default=30.0, gt=0, le=120)
    dashboard_data_dir: Path = Path("data")
    # A second place for the spill journal, ideally on another disk: used when the data folder refuses an
    # append (full, read-only). Unset: only the data folder (with the space it reserves ahead).
    dashboard_spill_dir: Path | None = None
    # How long a SQLite writer waits for another's lock before the write fails (then the refresh path
    # retries it and, failing that, keeps a refreshed token in the spill journal).
    dashboard_sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0, le=600_000)
    # PostgreSQL: how long a statement waits for a lock, and runs at all, before it fails (then the refresh
    # path retries the store while the lease lasts and, failing that, keeps the tokens in the spill journal).
    # Both well under the refresh lease (45 s with the defaults), so a locked table cannot outlast it.
    dashboard_pg_lock_timeout_ms: int = Field(default=5_000, ge=1, le=600_000)
    dashboard_pg_statement_timeout_ms: int = Field(default=15_000, ge=1, le=600_000)
    dashboard_allow_marketplace_installs: bool = False
    # How long a sendable install / re-consent link (/connect/<id>) works; each opening makes a 10-minute state.
    dashboard_link_ttl_days: float = Field(default=7.0, gt=0, le=90)
    dashboard_alert_webhook_url: SecretStr | None = None
    dashboard_alert_failure_threshold: int = Field(default=3, ge=1, le=1000)
    dashboard_breaker_probe_seconds: float = Field(default=30.0, ge=0.5, le=3600)
    dashboard_alert_min_interval_seconds: float = Field(default=900.0, ge=0, le=7 * 86400)
    dashboard_timeline_retention_days: float = Field(default=30.0, gt=0, le=3650)
    dashboard_sandbox_port: int = Field(default=0, ge=0, le=65535)
    # Sandbox mode: use this sandbox as is (no probe); unset, the one on the sandbox port or our own.
    dashboard_sandbox_url: str | None = None
    # The embedded sandbox's access-token lifetime (HubSpot's is 1800 s); a short one shows refreshes quickly.
    dashboard_sandbox_access_token_ttl: int = Field(default=1800, ge=1, le=86_400)
    # Roles: comma-separated emails (ana@example.com) or domains (@example.com).
    dashboard_admins: str = ""
    dashboard_operators: str = ""
    dashboard_viewers: str = ""
    # The refresh worker inside each dashboard server process; false when `refresh --due --loop` runs instead.
    dashboard_embedded_worker: bool = True
    dashboard_worker_interval_seconds: float = Field(default=60.0, ge=0.2, le=3600)
    dashboard_worker_concurrency: int = Field(default=8, ge=1, le=256)
    # Token API: requests per key and minute before 429; /metrics from outside loopback needs this key.
    dashboard_api_rate_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    dashboard_metrics_key: SecretStr | None = None
    # HubSpot API proxy: how long a call over the portal's rate limit waits for a slot (0: answer 429 at
    # once), the largest request body it forwards (413 above), and how long it waits for HubSpot (504).
    dashboard_proxy_max_wait_seconds: float = Field(default=0.0, ge=0, le=60)
    dashboard_proxy_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=0, le=1024**3)
    dashboard_proxy_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # Lifecycle webhooks (docs/webhooks.md): receivers on private addresses or plain http (tests, on-premise);
    # seconds between attempts (Svix's schedule); how often a worker looks for due deliveries; in parallel.
    dashboard_webhook_allow_private: bool = False
    dashboard_webhook_retry_schedule: str = "5,300,1800,7200,18000,36000,36000"
    dashboard_webhook_poll_seconds: float = Field(default=1.0, ge=0.05, le=60)
    dashboard_webhook_concurrency: int = Field(default=8, ge=1, le=64)
    dashboard_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=10)
    # A killed worker's delivery is taken again once its lease runs out: keep it above the timeout.
    dashboard_webhook_lease_seconds: float = Field(default=30.0, ge=1, le=600)

    @field_validator("dashboard_webhook_retry_schedule")
    @classmethod
    def _retry_schedule(cls, value: str) -> str:
        try:
            waits = [float(part) for part in value.split(",") if part.strip()]
        except ValueError:
            waits = [-1.0]
        if any(w < 0 or w > 7 * 86_400 for w in waits) or len(waits) > 20:
            raise ValueError("must be up to 20 comma-separated numbers of seconds (0 to 604800), "
                             "e.g. 5,300,1800,7200,18000,36000,36000")
        return value

    @property
    def webhook_retry_schedule(self) -> tuple[float, ...]:
        """Seconds to wait after each failed attempt; once they run out the delivery is marked failed."""
        return tuple(float(part) for part in self.dashboard_webhook_retry_schedule.split(",") if part.strip())

    @model_validator(mode="before")
    @classmethod
    def _database_in_data_dir(cls, data: Any) -> Any:
        """Without ``DASHBOARD_DATABASE_URL``, the SQLite file lives in ``DASHBOARD_DATA_DIR`` (``data/``)."""
        if isinstance(data, dict) and not data.get("dashboard_database_url"):
            folder = Path(str(data.get("dashboard_data_dir") or "data"))
            data = {**data, "dashboard_database_url": f"sqlite:///{folder / 'dashboard.db'}"}
        return data

    def secret_values(self) -> list[str]:
        """The text of every secret setting (and a database URL's password): never to appear in a log line."""
        found = [v.get_secret_value() for v in (getattr(self, name) for name in type(self).model_fields)
                 if isinstance(v, SecretStr)]
        try:
            password = make_url(self.dashboard_database_url).password
        except (ArgumentError, ValueError):
            password = None
        apps = [a.client_secret.get_secret_value() for a in self.app_tables]
        return [*found, *apps, *([str(password)] if password else [])]

    @field_validator("hubspot_client_id")
    @classmethod
    def _blank_id_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("hubspot_redirect_uri")
    @classmethod
    def _redirect(cls, value: str) -> str:
        try:
            return check_redirect_uri(value)
        except RedirectUriError as exc:  # pydantic reports a field error only for a ValueError
            raise ValueError(exc.description) from None

    @field_validator("hubspot_app_base_url", "hubspot_api_base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return check_base_url(value)

    @field_validator("dashboard_sandbox_url")
    @classmethod
    def _sandbox_url(cls, value: str | None) -> str | None:
        return check_base_url(value) if value and value.strip() else None

    @field_validator("dashboard_database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        try:
            url = make_url(value)
            usable = url.get_backend_name() in ("sqlite", "postgresql")  # make_url checks the port
            url.get_dialect()  # an unknown driver (postgresql+nosuch://) fails here, not at first use
        except (ArgumentError, ValueError):  # never echo the URL: it may hold a password
            usable = False
        if not usable or "://" not in value:
            raise ValueError(
                "must be a SQLAlchemy URL such as sqlite:///data/dashboard.db or "
                "postgresql+psycopg://user@host/dbname"
            )
        return value

    @field_validator("dashboard_admins", "dashboard_operators", "dashboard_viewers")
    @classmethod
    def _role_list(cls, value: str) -> str:
        for entry in (e.strip() for e in value.split(",")):
            if entry and (entry.count("@") != 1 or " " in entry or "." not in entry.split("@")[1]):
                raise ValueError(f"entry {entry[:60]!r} is neither an email (ana@example.com) nor a domain "
                                 "(@example.com)")
        return value

    @field_validator("dashboard_lock_url")
    @classmethod
    def _lock(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// or rediss:// URL, or unset to use database leases")
        return value

    @field_validator("dashboard_app_id")
    @classmethod
    def _app_id(cls, value: str) -> str:
        # It goes into the encryption binding and lease keys, which use ':' as a separator.
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-', e.g. default")
        return value

    @field_validator("dashboard_lock_prefix")
    @classmethod
    def _lock_prefix(cls, value: str) -> str:
        if not value or len(value) > 100 or any(c.isspace() for c in value):
            raise ValueError("must be 1-100 characters without spaces, e.g. hubspot-dashboard:")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> Settings:
        if self.hubspot_client_id is None:
            return self
        secret = self.hubspot_client_secret.get_secret_value().strip() if self.hubspot_client_secret else ""
        if not secret:
            raise ValueError(
                "HUBSPOT_CLIENT_SECRET: required when HUBSPOT_CLIENT_ID is set "
                "(HubSpot developer account → your app → Auth → Client secret)"
            )
        if secret.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("HUBSPOT_CLIENT_SECRET: is a placeholder; paste the real client secret")
        return self

    @model_validator(mode="after")
    def _apps(self) -> Settings:
        declared = [a.id for a in self.app_tables]
        if self.hubspot_client_id is not None and self.dashboard_app_id in declared:
            raise ValueError(f"apps.{self.dashboard_app_id}: declared twice, as an [apps] table and by "
                             "HUBSPOT_CLIENT_ID (whose app is DASHBOARD_APP_ID); keep one")
        check_distinct(self.declared_apps())
        if (self.app_tables and self.hubspot_client_id is None and "dashboard_app_id" in self.model_fields_set
                and self.dashboard_app_id not in declared):
            raise ValueError(f"DASHBOARD_APP_ID: names no declared app ({', '.join(declared)})")
        return self

    def declared_apps(self) -> tuple[AppSettings, ...]:
        """Every configured HubSpot app: the single-app settings' one first, then the [apps] tables."""
        if self.hubspot_client_id is None or self.hubspot_client_secret is None:
            return self.app_tables
        single = AppSettings(id=self.dashboard_app_id, client_id=self.hubspot_client_id,
                             client_secret=self.hubspot_client_secret, redirect_uri=self.hubspot_redirect_uri,
                             app_base_url=self.hubspot_app_base_url, api_base_url=self.hubspot_api_base_url)
        return (single, *self.app_tables)

    def app_ids(self) -> list[str]:
        """The configured apps' ids (in sandbox mode the one sandbox app, DASHBOARD_APP_ID)."""
        return [a.id for a in self.declared_apps()] or [self.dashboard_app_id]

    def check_app(self, app_id: str) -> str:
        """``app_id`` if it names a configured app, else :class:`UnknownAppError` listing them (one line)."""
        if app_id not in self.app_ids():
            raise UnknownAppError(f"unknown app {app_id[:64]!r}; configured: {', '.join(self.app_ids())}")
        return app_id

    @property
    def default_app_id(self) -> str:
        """The app of the paths, pages and commands that name none: DASHBOARD_APP_ID, unless only [apps]
        tables are configured and it is not set: then ``default`` if declared, else the first table."""
        declared = [a.id for a in self.app_tables]
        if (not declared or self.hubspot_client_id is not None or "dashboard_app_id" in self.model_fields_set
                or self.dashboard_app_id in declared):
            return self.dashboard_app_id
        return declared[0]

    @property
    def sandbox_mode(self) -> bool:
        """No HubSpot app configured: the dashboard talks to the built-in sandbox."""
        return self.hubspot_client_id is None and not self.app_tables

    @property
    def database_backend(self) -> str:
        return "postgresql" if self.dashboard_database_url.startswith("postgresql") else "sqlite"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges env and secrets.toml itself and passes them as init values,
        # so tests and callers control exactly which sources apply.
        return (init_settings,)


def _read_secrets_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot be read as TOML ({exc.__class__.__name__})") from exc
    # Only top-level scalar keys are settings; tables such as [auth] belong to Streamlit.
    return {k.lower(): v for k, v in data.items() if not isinstance(v, dict)}


def _format_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    msg = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
    if not loc:  # model-level rule: the message already names the setting
        return msg
    if first.get("type") == "literal_error" and loc == "hubspot_oauth_api":
        msg = "must be one of 2026-03 (default), v3 or v1"
    return f"{loc.upper()}: {msg}"


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    secrets_path: Path | None = DEFAULT_SECRETS_PATH,
    **overrides: Any,
) -> Settings:
    """Build settings from ``env`` (default ``os.environ``), then ``secrets.toml``, then ``overrides``.

    Environment variables win over secrets.toml; explicit overrides win over both.
    Raises :class:`ConfigurationError` with one line naming the setting and the rule.
    """
    import os

    source = dict(os.environ if env is None else env)
    names = set(Settings.model_fields) - {"app_tables"}
    values: dict[str, Any] = {}
    if secrets_path is not None:
        values.update({k: v for k, v in _read_secrets_toml(secrets_path).items() if k in names})
    values.update({k.lower(): v for k, v in source.items() if k.lower() in names and v != ""})
    values.update(overrides)
    values["app_tables"] = load_app_tables(values, secrets_path)
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigurationError(_format_error(exc)) from None
