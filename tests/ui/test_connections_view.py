"""The Connections page's data helpers (no Streamlit): countdown text, display order, chart data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.connections import Connection
from dashboard.ui.connections_view import (
    SORTS,
    connections_frame,
    expiry_histogram,
    format_remaining,
    gc_paused,
    sort_connections,
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
    frame = connections_frame([conn(1, 125), conn(2, None), conn(3, -5), conn(4, 60, status="revoked")])
    assert list(with_countdown(frame, NOW)["expires_in"]) == ["2m 05s", "—", "expired 5s ago", "—"]
    later = with_countdown(frame, NOW + timedelta(seconds=2))
    assert list(later["expires_in"]) == ["2m 03s", "—", "expired 7s ago", "—"]
    assert "expires_in" not in frame  # the frame held by the fragment is not changed


def test_sorting_puts_unknowns_last_and_breaks_ties_by_hub_id() -> None:
    conns = [conn(3, 50), conn(1, None), conn(2, 50, status="needs_reauth"), conn(4, 10, status="revoked")]
    assert [c.hub_id for c in sort_connections(conns, "Expires soonest")] == [4, 2, 3, 1]
    assert [c.hub_id for c in sort_connections(conns, "Status (problems first)")] == [2, 1, 3, 4]
    assert [c.hub_id for c in sort_connections(conns, "unknown sort")] == [1, 2, 3, 4]
    refreshed = [conn(5, 1, last_refresh_at=NOW), conn(6, 1), conn(7, 1, last_refresh_at=NOW),
                 conn(8, 1, last_refresh_at=NOW + timedelta(minutes=1))]
    assert [c.hub_id for c in sort_connections(refreshed, "Last refresh (newest)")] == [8, 5, 7, 6]
    assert set(SORTS) >= {"Hub id", "Domain", "Last refresh (newest)", "Installed (newest)"}


def test_expiry_histogram_buckets_the_next_hour() -> None:
    conns = [conn(1, 10), conn(2, 299), conn(3, 301), conn(4, 3599), conn(5, 3600), conn(6, -1),
             conn(7, 100, status="revoked"), conn(8, None)]
    hist = expiry_histogram(conns, NOW)
    assert len(hist) == 12 and hist["expires in"].iloc[0] == "00-05 min"
    assert list(hist["tokens"]) == [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_gc_paused_restores_the_collector() -> None:
    import gc

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()
