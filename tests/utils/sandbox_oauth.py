"""Helpers for driving the sandbox over HTTP in its tests: install URLs, consent, code exchange, refresh."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from dashboard.sandbox import DEFAULT_REDIRECT_URI, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

CLIENT = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}
FREE_HUB, PRO_HUB, ENTERPRISE_HUB = 1000001, 1000002, 1000003


def authorize_url(base: str, *, account: int | str | None = None, **params: str) -> str:
    """An install URL with the sandbox app's defaults; ``params`` override or add query parameters."""
    query = {
        "client_id": SANDBOX_CLIENT_ID,
        "redirect_uri": DEFAULT_REDIRECT_URI,
        "scope": "oauth crm.objects.contacts.read",
        **params,
    }
    path = "/oauth/authorize" if account is None else f"/oauth/{account}/authorize"
    return f"{base}{path}?{urlencode(query)}"


def query_of(url: str) -> dict[str, str]:
    """A redirect URL's query parameters (first values)."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def consent(
    http: httpx.Client, url: str, *, account_id: int | None = None, decision: str = "grant"
) -> httpx.Response:
    body: dict[str, Any] = {"authorize_url": url, "decision": decision}
    if account_id is not None:
        body["account_id"] = account_id
    return http.post("/_sandbox/consent", json=body)


def get_code(http: httpx.Client, *, account_id: int | None = None, **params: str) -> str:
    """Consent through the control and return the code from the redirect."""
    resp = consent(http, authorize_url(str(http.base_url).rstrip("/"), **params), account_id=account_id)
    assert resp.status_code == 200, resp.text
    return query_of(resp.json()["redirect_url"])["code"]


def exchange(http: httpx.Client, code: str, *, version: str = "2026-03", **extra: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": DEFAULT_REDIRECT_URI, **CLIENT}
    form.update(extra)
    return http.post(f"/oauth/{version}/token", data=form)


def refresh(http: httpx.Client, refresh_token: str, *, version: str = "2026-03", **extra: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **CLIENT}
    form.update(extra)
    return http.post(f"/oauth/{version}/token", data=form)


def install(
    http: httpx.Client, *, account_id: int | None = None, version: str = "2026-03", **params: str
) -> dict[str, Any]:
    """A full install without a browser: consent, then the code exchange. Returns the token body (2026-03's
    by default, which names the hub and the scopes; v1's guide body does not)."""
    resp = exchange(http, get_code(http, account_id=account_id, **params), version=version)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def issue(http: httpx.Client, hub_id: int = FREE_HUB, scopes: list[str] | None = None) -> dict[str, Any]:
    resp = http.post("/_sandbox/issue", json={"hub_id": hub_id, "scopes": scopes or ["oauth"]})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
