"""``[apps.<id>]`` tables: the HubSpot apps one dashboard serves, read into :class:`AppSettings`.

They live in ``.streamlit/secrets.toml`` or in the TOML file named by ``DASHBOARD_APPS_FILE`` (which then
replaces secrets.toml's tables: the environment wins, as for every other setting)::

    [apps.production]
    client_id = "..."
    client_secret = "..."
    redirect_uri = "https://dashboard.example.com/install"
    production = true
    label = "Production"
    scopes = ["oauth", "crm.objects.contacts.read"]   # the scope builder's default set

Every rule failure is one :class:`ConfigurationError` line naming the app and the key
(``apps.staging.client_secret: required ...``), raised before anything is written.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

from dashboard.apps.urls import PLACEHOLDER_SECRETS, check_base_url, check_redirect_uri
from dashboard.errors import ConfigurationError, RedirectUriError

APP_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
APP_ID_RULE = "must be 1-64 letters, digits, '.', '_' or '-', e.g. default"
MAX_APPS = 50  # each app is a HubSpot client, leases and a sweep per pass: a bound, far above real use


class AppSettings(BaseModel):
    """One HubSpot app: its credentials, hosts, default scopes and how the pages show it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    app_base_url: str = "https://app.hubspot.com"
    api_base_url: str = "https://api.hubapi.com"
    scopes: tuple[str, ...] = ()
    production: bool = False
    label: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        # It goes into the encryption binding and lease keys, which use ':' as a separator.
        if not APP_ID.fullmatch(value):
            raise ValueError(APP_ID_RULE)
        return value

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("required (HubSpot developer account → your app → Auth → Client ID)")
        return value.strip()

    @field_validator("client_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if not text:
            raise ValueError("required (HubSpot developer account → your app → Auth → Client secret)")
        if text.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder; paste the real client secret")
        return value

    @field_validator("redirect_uri")
    @classmethod
    def _redirect(cls, value: str) -> str:
        try:
            return check_redirect_uri(value)
        except RedirectUriError as exc:
            raise ValueError(exc.description) from None

    @field_validator("app_base_url", "api_base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return check_base_url(value)

    @field_validator("scopes", mode="before")
    @classmethod
    def _scopes(cls, value: Any) -> Any:
        # A TOML array, or HubSpot's wire form (space-separated) pasted from an authorize URL.
        return tuple(value.split()) if isinstance(value, str) else value

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        if len(value) > 60 or any(not c.isprintable() for c in value):
            raise ValueError("must be up to 60 printable characters")
        return value.strip()

    @property
    def display_name(self) -> str:
        return self.label or self.id


def _format(app_id: str, exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()) if not isinstance(p, int))
    msg = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
    kind = first.get("type")
    if kind == "missing":
        msg = "required"
    elif kind == "extra_forbidden":
        msg = ("unknown key; the keys are client_id, client_secret, redirect_uri, app_base_url, api_base_url, "
               "scopes, production, label")
    return f"apps.{app_id}.{loc} ({source}): {msg}"


def parse_app_tables(tables: Any, *, source: str) -> tuple[AppSettings, ...]:
    """The apps of an ``[apps]`` table, in the file's order. One line naming the app and key on any error."""
    if not isinstance(tables, Mapping):
        raise ConfigurationError(f"apps ({source}): must be a table of [apps.<id>] tables")
    if len(tables) > MAX_APPS:
        raise ConfigurationError(f"apps ({source}): at most {MAX_APPS} apps")
    found: list[AppSettings] = []
    for app_id, table in tables.items():
        if not APP_ID.fullmatch(str(app_id)):
            raise ConfigurationError(f"apps.{str(app_id)[:64]!r} ({source}): the app id {APP_ID_RULE}")
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"apps.{app_id} ({source}): must be a table ([apps.{app_id}])")
        try:
            found.append(AppSettings(id=app_id, **{str(k): v for k, v in table.items()}))
        except ValidationError as exc:
            raise ConfigurationError(_format(str(app_id), exc, source)) from None
        except TypeError:  # a key named "id" as well as the table's own id
            raise ConfigurationError(f"apps.{app_id}.id ({source}): unknown key; the table's name is the id") from None
    return tuple(found)


def read_app_tables(path: Path, *, required: bool) -> Any:
    """The ``apps`` table of a TOML file (None when it has none, or the file is absent and not required)."""
    if not path.is_file():
        if required:
            raise ConfigurationError(f"DASHBOARD_APPS_FILE: {path} is not a readable file")
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot be read as TOML ({exc.__class__.__name__})") from exc
    return data.get("apps")


def check_distinct(apps: tuple[AppSettings, ...]) -> None:
    """Two apps with one client id would be one HubSpot app twice: its tokens bound to two names."""
    seen: dict[str, str] = {}
    for app in apps:
        if app.client_id in seen:
            raise ConfigurationError(f"apps.{app.id}.client_id: the same client id as app {seen[app.client_id]!r}; "
                                     "each app has its own (or declare the app once)")
        seen[app.client_id] = app.id


def load_app_tables(values: dict[str, Any], secrets_path: Path | None) -> tuple[AppSettings, ...]:
    """[apps] tables: given as an override (a mapping of tables, in tests), else DASHBOARD_APPS_FILE's, else
    secrets.toml's."""
    given = values.get("app_tables")
    if isinstance(given, tuple):
        return given
    if given is not None:
        return parse_app_tables(given, source="overrides")
    if values.get("dashboard_apps_file"):
        path = Path(str(values["dashboard_apps_file"]))
        tables = read_app_tables(path, required=True)
        return parse_app_tables(tables, source=str(path)) if tables is not None else ()
    if secrets_path is None:
        return ()
    tables = read_app_tables(secrets_path, required=False)
    return parse_app_tables(tables, source=str(secrets_path)) if tables is not None else ()
