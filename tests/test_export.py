"""CSV export of connections: the listing's fields only, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dashboard.connections.export import CSV_COLUMNS, connections_csv, neutralize
from dashboard.connections.service import Connection

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONN = Connection(
    hub_id=1000001, hub_domain="acme-corp.hubspot.com", status="healthy", stored_status="active",
    expires_at=WHEN, granted_scopes=("crm.objects.contacts.read", "oauth"), requested_scopes=("oauth",),
    requested_optional_scopes=("automation",), missing_optional_scopes=("automation",), last_refresh_at=None,
    last_refresh_result=None, last_error=None, consecutive_failures=0, installed_by="admin@acme.example",
    installed_at=WHEN, token_fingerprint="f1f2f3f4", key_id="k1",
)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_columns_and_values() -> None:
    text = connections_csv([CONN])
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    (row,) = rows(text)
    assert row["hub_id"] == "1000001" and row["status_label"] == "Healthy"
    assert row["granted_scopes"] == "crm.objects.contacts.read oauth"
    assert row["expires_at"] == "2026-01-02T03:04:05+00:00" and row["last_refresh_at"] == ""


def test_no_token_material() -> None:
    text = connections_csv([CONN])
    assert "f1f2f3f4" not in text and "k1" not in text.split("\r\n", 1)[1]
    assert not {"token_fingerprint", "key_id", "access_token", "refresh_token"} & set(CSV_COLUMNS)


@pytest.mark.parametrize("evil", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formulas_are_neutralized(evil: str) -> None:
    (row,) = rows(connections_csv([replace(CONN, hub_domain=evil, installed_by=evil, last_error=evil)]))
    # A tab or CR is shown escaped (dashboard.security.terminal_text), which starts no formula; the rest get an
    # apostrophe.
    expected = evil.replace("\t", "\\t").replace("\r", "\\r") if evil[0] in "\t\r" else "'" + evil
    for column in ("hub_domain", "installed_by", "last_error"):
        assert row[column] == expected


def test_plain_values_are_untouched() -> None:
    assert neutralize("acme.hubspot.com") == "acme.hubspot.com"
    assert neutralize("a=b") == "a=b"
    assert connections_csv([]) == ",".join(CSV_COLUMNS) + "\r\n"
