"""The one composition root: settings in, engine + cipher + HubSpot client + leases out.

The UI caches one :class:`AppContext` per server process, the CLI builds one per command, tests build
their own (often with ``transport=`` or a sandbox URL). Nothing here runs at import time.

Sandbox mode (no ``HUBSPOT_CLIENT_ID``): the context points the HubSpot client at the built-in sandbox.
It uses ``DASHBOARD_SANDBOX_URL`` when given, else a sandbox already answering on the sandbox port that
accepts our client id and redirect URI (so the CLI talks to the same sandbox as a running dashboard), else
it starts one in this process: on the sandbox port when free, on any free port when something else holds it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import outbound
from dashboard.apps.registry import AppRegistry, build_registry
from dashboard.errors import ConfigurationError
from dashboard.hubspot.authorize import build_authorize_url
from dashboard.hubspot.client import HubSpotApp, HubSpotClient, RetryPolicy
from dashboard.hubspot.transport import HttpClient, Transport, build_http_client
from dashboard.scopes.catalog import ScopeSet
from dashboard.security.crypto import TokenCipher, build_cipher
from dashboard.security.logredact import install_redaction, register_secrets
from dashboard.settings import Settings
from dashboard.storage import db
from dashboard.storage.file_modes import private_data_dir
from dashboard.storage.group_commit import GroupCommit
from dashboard.storage.locks import LeaseProvider
from dashboard.storage.unsaved_tokens import UnsavedTokens

log = logging.getLogger(__name__)
DEFAULT_SANDBOX_PORT = 8765
T = TypeVar("T")
_views_lock = threading.Lock()


@dataclass
class AppContext:
    """Everything the services need, for one app (``app_id``). Treat as read-only once built.

    ``for_app`` gives the same process's context for another configured app: the engine, cipher, HTTP pool
    and SQLite writer lock are shared; the app, its HubSpot client, leases and held tokens are that app's.
    """

    settings: Settings
    engine: Engine
    cipher: TokenCipher
    app: HubSpotApp
    hubspot: HubSpotClient
    leases: LeaseProvider
    http: HttpClient
    sandbox_url: str | None = None
    app_id: str = ""
    apps: AppRegistry | None = field(default=None, repr=False)
    # Refreshed tokens neither the database nor the spill journal took (dashboard/storage/unsaved_tokens.py).
    unsaved: UnsavedTokens = field(default_factory=UnsavedTokens, repr=False)
    _closers: list[Any] = field(default_factory=list, repr=False)
    _writer: threading.Lock | None = field(default=None, repr=False)
    _group: GroupCommit | None = field(default=None, init=False, repr=False)
    _views: dict[str, AppContext] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.app_id:  # the app this context's connections belong to: a connection is (app, hub id)
            self.app_id = self.settings.default_app_id
        if self._writer is not None:
            self._group = GroupCommit(self.session, self.writing)

    @property
    def sandbox_mode(self) -> bool:
        return self.settings.sandbox_mode

    @property
    def registry(self) -> AppRegistry:
        if self.apps is None:
            raise RuntimeError("this context was built without an app registry")  # only build_context builds one
        return self.apps

    @property
    def production(self) -> bool:
        """This app is marked ``production = true``: the pages badge it and ask for typed confirmations."""
        return self.apps is not None and self.app_id in self.apps and self.apps.get(self.app_id).production

    def for_app(self, app_id: str) -> AppContext:
        """This process's context for ``app_id`` (built once, then reused: its held tokens live in it).

        Raises :class:`~dashboard.errors.UnknownAppError` (one line, listing the apps) for an unknown id."""
        if app_id == self.app_id:
            return self
        with _views_lock:
            found = self._views.get(app_id)
            if found is None:
                entry = self.registry.get(app_id)
                # Not closers: the base context owns the engine, the pool and the leases' connections.
                found = replace(self, app_id=app_id, app=entry.app, hubspot=entry.hubspot, leases=entry.leases,
                                unsaved=UnsavedTokens(), _closers=[], _views=self._views)
                self._views[app_id] = found
            return found

    def each_app(self) -> list[AppContext]:
        """The context of every configured app, in configuration order (the worker sweeps them all)."""
        return [self.for_app(app_id) for app_id in self.registry.ids]

    def authorize_url(self, scope_set: ScopeSet, *, state: str | None, account_id: int | None = None) -> str:
        """HubSpot's authorize URL for ``scope_set`` with this app's client id and redirect URI."""
        return build_authorize_url(app_base_url=self.app.app_base_url, client_id=self.app.client_id,
                                   redirect_uri=self.app.redirect_uri, scopes=scope_set.scope_param(),
                                   optional_scopes=scope_set.optional_param(), state=state, account_id=account_id)

    @contextmanager
    def session(self, *, app: str | None = None) -> Iterator[Session]:
        """A session whose database errors surface as :class:`StorageError` (one line, no SQL).

        ``app``: another app's rows (the spill journal's entries, rows of an app no longer configured)."""
        # The repository reads the app from the session: services keep passing hub ids.
        with db.storage_errors(), Session(self.engine, expire_on_commit=False,
                                          info={"app": app or self.app_id}) as session:
            yield session

    def writing(self) -> AbstractContextManager[object]:
        """Hold around a short write transaction (the session, its writes and the commit).

        SQLite takes one writer at a time and makes the others poll with sleeps of 1 to 100 ms (its busy
        handler): at 50 refresh threads that stretched a 1 ms store to 33 ms on average, widening the window
        in which a crash loses a rotated refresh token. The threads of this process queue here instead;
        other processes still meet in SQLite's own lock. Not a lease: it orders writes, it decides nothing.
        On PostgreSQL it does nothing.
        """
        return self._writer if self._writer is not None else nullcontext()

    def write_together(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in a committed write transaction and its result.

        On SQLite the transaction may carry other threads' writes too (dashboard/storage/group_commit.py): the hot
        path of a sweep, one store per refresh. On PostgreSQL each runs in its own, in parallel.
        """
        if self._group is not None:
            return self._group.run(work)
        with self.session() as session, self.writing():
            result = work(session)
            session.commit()
        return result

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()


def _start_sandbox(port: int, redirect_uris: list[str], closers: list[Any], *, access_token_ttl: int) -> str:
    from dashboard.sandbox import SandboxConfig, SandboxServer

    for attempt in dict.fromkeys((port, 0)):  # the port taken meanwhile: any free port will do for this process
        try:
            server = SandboxServer(SandboxConfig(port=attempt, redirect_uris=redirect_uris,
                                                 access_token_ttl=access_token_ttl)).start()
        except OSError as exc:
            failure = exc
            continue
        closers.append(server.stop)
        return server.url
    raise ConfigurationError(f"sandbox mode: cannot start the built-in sandbox ({failure.__class__.__name__}); "
                             "set DASHBOARD_SANDBOX_URL to a running sandbox, or HUBSPOT_CLIENT_ID") from failure


def _sandbox_app(settings: Settings, sandbox_url: str | None, closers: list[Any]) -> tuple[HubSpotApp, str]:
    from dashboard.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

    url = sandbox_url or settings.dashboard_sandbox_url
    if not url:
        port = settings.dashboard_sandbox_port or DEFAULT_SANDBOX_PORT
        candidate = f"http://127.0.0.1:{port}"
        probe = outbound.probe_sandbox(candidate, client_id=SANDBOX_CLIENT_ID,
                                       redirect_uri=settings.hubspot_redirect_uri)
        if probe.verdict == "accepts":
            url = candidate
        else:
            if probe.verdict == "foreign":
                # Reusing it would fail later, on its consent page; say why here instead.
                log.warning("sandbox mode: what answers on port %s cannot take our installs (%s); "
                            "starting our own sandbox on a free port", port, probe.reason)
            url = _start_sandbox(port if probe.verdict == "absent" else 0, [settings.hubspot_redirect_uri],
                                 closers, access_token_ttl=settings.dashboard_sandbox_access_token_ttl)
            log.warning("sandbox mode: no HUBSPOT_CLIENT_ID configured; using the built-in sandbox at %s", url)
    url = url.rstrip("/")
    app = HubSpotApp(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET,
                     redirect_uri=settings.hubspot_redirect_uri, app_base_url=url, api_base_url=url,
                     oauth_api=settings.hubspot_oauth_api)
    return app, url


def build_context(
    settings: Settings,
    *,
    transport: Transport | None = None,
    sandbox_url: str | None = None,
    migrate: bool = True,
    retry: RetryPolicy | None = None,
    lock_prefix: str | None = None,
    pool_size: int = 64,
    start_sandbox: bool = True,
) -> AppContext:
    """Wire engine, cipher, HubSpot client and leases from ``settings``.

    ``transport`` replaces the network (tests: ``httpx.MockTransport``); ``sandbox_url`` points sandbox
    mode at a running sandbox instead of starting one. ``migrate`` upgrades the schema on start.
    ``lock_prefix`` overrides ``DASHBOARD_LOCK_PREFIX`` (the Redis key prefix of the leases).
    """
    # The cipher first: bad DASHBOARD_ENCRYPTION_KEYS must fail before a database file is created.
    keys = settings.dashboard_encryption_keys
    cipher = build_cipher(keys.get_secret_value() if keys else None, sandbox_mode=settings.sandbox_mode,
                          data_dir=settings.dashboard_data_dir)
    register_secrets(settings.secret_values())  # the webhook URL, keys, passwords: never in a log line
    install_redaction()  # secrets redacted and control characters escaped in every log record
    # One an older version created with the umask's mode, or a file copied in with 0644: private again.
    private_data_dir(settings.dashboard_data_dir)
    closers: list[Any] = []
    engine = db.create_db_engine(settings.dashboard_database_url,
                                 busy_timeout_ms=settings.dashboard_sqlite_busy_timeout_ms,
                                 pg_lock_timeout_ms=settings.dashboard_pg_lock_timeout_ms,
                                 pg_statement_timeout_ms=settings.dashboard_pg_statement_timeout_ms)
    closers.append(engine.dispose)
    if migrate:
        db.upgrade(engine)
    found_sandbox: str | None = None
    sandbox_app: HubSpotApp | None = None
    if settings.sandbox_mode and not start_sandbox and sandbox_url is None:
        # Commands that never call HubSpot (db, keys) need no sandbox running.
        sandbox_app = HubSpotApp(client_id="sandbox", client_secret="", redirect_uri=settings.hubspot_redirect_uri,
                                 app_base_url="http://127.0.0.1", api_base_url="http://127.0.0.1",
                                 oauth_api=settings.hubspot_oauth_api)
    elif settings.sandbox_mode:
        sandbox_app, found_sandbox = _sandbox_app(settings, sandbox_url, closers)
    http = build_http_client(transport=transport, timeout=settings.dashboard_http_timeout_seconds,
                             pool_size=pool_size)
    closers.append(http.close)
    # Every configured app (or the sandbox app): its own client id, secret and host, and leases keyed by it.
    registry = build_registry(settings, engine=engine, http=http, sandbox_app=sandbox_app, retry=retry,
                              lock_prefix=lock_prefix, closers=closers, transport=transport,
                              pool_size=pool_size)
    default = registry.get(registry.default)
    return AppContext(settings=settings, engine=engine, cipher=cipher, app=default.app, hubspot=default.hubspot,
                      leases=default.leases, http=http, sandbox_url=found_sandbox, app_id=default.id, apps=registry,
                      _closers=closers,
                      _writer=threading.Lock() if settings.database_backend == "sqlite" else None)
