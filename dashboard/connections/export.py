"""CSV export of the connections list, safe to open in a spreadsheet.

Only the listing's non-secret fields are written (never ciphertext, key ids or fingerprints). Any cell
that a spreadsheet could read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return) gets a leading apostrophe, the OWASP "CSV injection" rule: a hub domain or user name chosen by a
customer must not run as a formula on a support person's machine. Control characters and bidi controls in
a cell are escaped (:func:`dashboard.security.terminal_text.escape_controls`), as everywhere foreign text is shown.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable
from datetime import datetime
from typing import BinaryIO, TextIO, cast

from dashboard.connections.service import Connection
from dashboard.models import AuditEvent
from dashboard.security.terminal_text import escape_controls
from dashboard.status import label as status_label

CSV_COLUMNS = (
    "hub_id", "hub_domain", "status", "status_label", "expires_at", "last_refresh_at", "last_refresh_result",
    "last_error", "consecutive_failures", "granted_scopes", "requested_scopes", "requested_optional_scopes",
    "missing_optional_scopes", "installed_by", "installed_at",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: str) -> str:
    """``value`` with a leading apostrophe when a spreadsheet would treat it as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _cell(value: object) -> str:
    """A cell: control characters and bidi controls escaped (the file is read in terminals too), formulas
    neutralized."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return neutralize(escape_controls(" ".join(str(v) for v in value)))
    return neutralize(escape_controls(str(value)))


def connections_csv(conns: Iterable[Connection]) -> str:
    """The connections as CSV text (header + one row each); no token material, formulas neutralized."""
    out = io.StringIO()
    write_connections_csv(conns, out)
    return out.getvalue()


def connections_csv_file(conns: Iterable[Connection]) -> BinaryIO:
    """The CSV in a spooled temporary file (on disk past 1 MB), rewound: ``conns`` may be a generator
    reading the database a batch at a time, so no list of every portal is ever held."""
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 (the caller reads and closes it)
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    write_connections_csv(conns, text)
    text.flush()
    text.detach()
    spool.seek(0)
    return cast(BinaryIO, spool)


def write_connections_csv(conns: Iterable[Connection], out: TextIO) -> int:
    """Write the header and one row per connection to ``out``; return the number of rows."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for c in conns:
        count += 1
        writer.writerow([_cell(v) for v in (
            c.hub_id, c.hub_domain, c.status, status_label(c.status), c.expires_at,
            c.last_refresh_at, c.last_refresh_result, c.last_error, c.consecutive_failures, c.granted_scopes,
            c.requested_scopes, c.requested_optional_scopes, c.missing_optional_scopes, c.installed_by,
            c.installed_at,
        )])
    return count


AUDIT_CSV_COLUMNS = ("at", "actor", "hub_id", "hub_domain", "action", "outcome", "detail")


def audit_csv(events: Iterable[AuditEvent], domains: dict[int, str]) -> bytes:
    """The audit events as UTF-8 CSV bytes (what a download button sends as is); formulas neutralized."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_CSV_COLUMNS)
    for e in events:
        writer.writerow([_cell(e.at), _cell(e.actor), _cell(e.hub_id), _cell(domains.get(e.hub_id or 0)),
                         _cell(e.action), _cell(e.outcome), _cell(e.detail)])
    return out.getvalue().encode("utf-8")
