"""The Connections page's data helpers (no Streamlit): countdown text, readable status and result.

Counts, sorts, paging and the chart are computed in SQL: tests/test_listing.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.connections.service import Connection
from dashboard.ui.connections_view import (
    connections_frame,
    format_remaining,
    result_text,
    status_text,
    with_countdown,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def conn(hub_id: int, expires_in: float | None, status: str = "healthy", **changes: object) -> Connection:
    base = Connection(
        hub_id=hub_id, hub_domain=f"portal-{hub_id}.hubspot.com", status=status, stored_status="active",
        expires_at=None if expires_in is None else NOW + timedelta(seconds=expires_in), granted_scopes=("oauth",),
        requested_scopes=("oauth",), requested_optional_scopes=(), missing_optional_scopes=(),
        last_refresh_at=None, last_refresh_result=None, last_error=None, consecutive_failures=0,
        installed_by=None, installed_at=None, token_fingerprint=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "text"), [
    (42, "42s"), (245, "4m 05s"), (3720, "1h 02m"), (0, "expired 0s ago"), (-190, "expired 3m 10s ago"),
    (None, "—"), (float("nan"), "—"),
])
def test_format_remaining(seconds: float | None, text: str) -> None:
    assert format_remaining(seconds) == text


def test_countdown_recomputes_from_expires_at_only() -> None:
    frame = connections_frame([conn(1, 125), conn(2, None), conn(3, -5), conn(4, 60, status="revoked"),
                               conn(5, 60, status="needs_reauth"), conn(6, 60, status="refresh_failing"),
                               conn(7, 60, status="undecryptable"), conn(8, 60, status="something_new")])
    assert list(with_countdown(frame, NOW)["expires_in"]) == [
        "2m 05s", "—", "expired 5s ago", "reinstall to reconnect", "re-consent needed", "1m 00s",
        "restore the key or reinstall", "see details"]
    later = with_countdown(frame, NOW + timedelta(seconds=2))
    assert list(later["expires_in"])[:3] == ["2m 03s", "—", "expired 7s ago"]
    assert "expires_in" not in frame  # the frame held by the fragment is not changed


def test_readable_status_and_result_text() -> None:
    frame = connections_frame([conn(1, 10, last_refresh_result="transient", consecutive_failures=3),
                               conn(2, 10, status="needs_reauth", last_refresh_result="invalid_grant"),
                               conn(3, 10, status="key_missing")])
    assert list(frame["status_label"]) == ["🟢 Healthy", "🔴 Needs re-auth", "🔴 Key missing"]
    assert list(frame["last_refresh_result"]) == ["HubSpot unavailable, retrying (3×)",
                                                  "Refresh token rejected (re-consent)", ""]
    assert status_text("brand_new") == "🔴 Brand new"
    assert result_text(None, 0) == "" and result_text("weird_code", 1) == "Weird code"
