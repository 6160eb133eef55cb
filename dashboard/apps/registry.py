"""The HubSpot apps of one process: each with its own credentials, HubSpot client (its own host) and leases.

Built once by the composition root (dashboard/context.py: build_context) from ``Settings.declared_apps()``
(or the sandbox app when nothing is configured); services reach an app through ``AppContext.for_app``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from dashboard.apps.config import AppSettings
from dashboard.errors import ConfigurationError, UnknownAppError
from dashboard.hubspot.client import HubSpotApp, HubSpotClient, RetryPolicy
from dashboard.hubspot.forwarding import Forwarder
from dashboard.hubspot.transport import HttpClient, Transport
from dashboard.settings import Settings
from dashboard.storage.locks import DatabaseLeases, LeaseProvider, RedisLeases


@dataclass(frozen=True)
class AppEntry:
    """One configured app. ``production`` marks it for the pages (a badge; typed confirmations)."""

    id: str
    label: str
    production: bool
    scopes: tuple[str, ...]
    app: HubSpotApp
    hubspot: HubSpotClient
    leases: LeaseProvider


class AppRegistry:
    """The configured apps in configuration order, and the default one (the paths that name no app)."""

    def __init__(self, entries: list[AppEntry], *, default: str) -> None:
        self._entries = {e.id: e for e in entries}
        if default not in self._entries:
            raise ConfigurationError(f"DASHBOARD_APP_ID: names no declared app ({', '.join(self._entries)})")
        self.default = default

    @property
    def ids(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, app_id: object) -> bool:
        return app_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, app_id: str) -> AppEntry:
        """The app named ``app_id``; :class:`UnknownAppError` (one line listing the configured ones) if none."""
        found = self._entries.get(app_id)
        if found is None:
            raise UnknownAppError(f"unknown app {app_id[:64]!r}; configured: {', '.join(self._entries)}")
        return found

    def entries(self) -> list[AppEntry]:
        return list(self._entries.values())


def _leases(settings: Settings, engine: Engine, app_id: str, lock_prefix: str | None,
            closers: list[Callable[[], None]]) -> LeaseProvider:
    lock_url = settings.dashboard_lock_url
    if lock_url is None:
        return DatabaseLeases(engine, app=app_id)
    redis_leases = RedisLeases(lock_url.get_secret_value(), prefix=lock_prefix or settings.dashboard_lock_prefix,
                               app=app_id, row=DatabaseLeases(engine, app=app_id))
    closers.append(redis_leases.close)
    return redis_leases


def build_registry(settings: Settings, *, engine: Engine, http: HttpClient, sandbox_app: HubSpotApp | None,
                   retry: RetryPolicy | None, lock_prefix: str | None, closers: list[Callable[[], None]],
                   transport: Transport | None = None, pool_size: int = 64) -> AppRegistry:
    """One entry per declared app; in sandbox mode (nothing declared) one entry, ``sandbox_app``, named
    ``DASHBOARD_APP_ID``. Each client shares the connection pool ``http`` but has its own app and host, and
    its own forwarder for the proxy's calls (blocking over ``http``, or async pools on the server's loop)."""
    timeout = settings.dashboard_token_timeout_seconds

    def client(app: HubSpotApp) -> HubSpotClient:
        forwarder = Forwarder(app, http, transport=transport, pool_size=pool_size,
                              timeout=settings.dashboard_http_timeout_seconds)
        closers.append(forwarder.close)
        return HubSpotClient(app, http, retry=retry, token_timeout=timeout, forwarder=forwarder)

    def entry(app_id: str, app: HubSpotApp, conf: AppSettings | None) -> AppEntry:
        return AppEntry(id=app_id, label=conf.display_name if conf else app_id,
                        production=conf.production if conf else False, scopes=conf.scopes if conf else (),
                        app=app, hubspot=client(app), leases=_leases(settings, engine, app_id, lock_prefix, closers))

    if sandbox_app is not None:
        return AppRegistry([entry(settings.dashboard_app_id, sandbox_app, None)], default=settings.dashboard_app_id)
    entries = [entry(conf.id, HubSpotApp(client_id=conf.client_id, client_secret=conf.client_secret.get_secret_value(),
                                         redirect_uri=conf.redirect_uri, app_base_url=conf.app_base_url,
                                         api_base_url=conf.api_base_url, oauth_api=settings.hubspot_oauth_api), conf)
               for conf in settings.declared_apps()]
    return AppRegistry(entries, default=settings.default_app_id)
