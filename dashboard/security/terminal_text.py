"""Foreign text shown escaped: control characters and bidi controls never reach a terminal, a log or a page raw.

Portal domains, user emails, app names and HubSpot's messages are chosen by others. Printed raw, an ESC
starts a terminal escape sequence (colours, cursor moves, a hyperlink, a window title), BEL rings, a CR in
the middle of a line overwrites what came before it, and a Unicode bidi override (U+202E) shows
``moc.kapsbuh`` as ``hubspot.com``. :func:`escape_controls` is the one function that makes such text
harmless: every C0 and C1 control character, DEL, every Unicode bidi control (the ``Bidi_Control``
property: U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and the line and paragraph separators
U+2028/U+2029 are shown as Python-style escapes (``\\x1b``, ``\\u202e``); everything else is unchanged.

It is applied by the CLI's output streams (:mod:`dashboard.cli.output`), by every log record
(``dashboard.security.logredact``'s record factory applies :func:`escape_record`), in alerts and CSV cells, and on
the pages (``dashboard.ui.text``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

_BIDI = r"\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_ANY = re.compile(rf"[\x00-\x1f\x7f-\x9f{_BIDI}]")
# In multi-line output (a whole printed line, a log message, a traceback) the line breaks and tabs the
# output is made of stay; a CR counts as part of a line break only right before a LF.
_IN_LINES = re.compile(rf"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x80-\x9f{_BIDI}]")


_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control character and bidi control escaped (``\\x1b``, ``\\u202e``).

    One value (a domain, a name, a message) is one line: its tabs and line breaks are escaped too, so it
    cannot forge a line or a column. ``multiline=True`` is for output made of lines (a printed table, a
    traceback): LF, tab and CR-before-LF are kept, a CR anywhere else is escaped, and DEL is kept (terminals
    ignore it, and ``json.dumps`` leaves it raw inside a string, where ``\\x7f`` would not be JSON).
    """
    pattern = _IN_LINES if multiline else _ANY
    return pattern.sub(_escape, text) if pattern.search(text) else text


def has_controls(text: str) -> bool:
    """Whether :func:`escape_controls` would change ``text``."""
    return _ANY.search(text) is not None


# --- log records --------------------------------------------------------------------------------------------

def _safe_arg(value: object) -> object:
    if isinstance(value, str):
        return escape_controls(value)
    if value is None or isinstance(value, int | float | bytes):
        return value
    shown = str(value)  # an exception or an object: its text may quote foreign text
    return escape_controls(shown) if has_controls(shown) else value


def escape_record(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` with its message, arguments and traceback escaped, argument types and count kept (some
    formatters unpack ``record.args``, uvicorn's access log among them)."""
    record.msg = (escape_controls(record.msg, multiline=True) if isinstance(record.msg, str)
                  else _safe_arg(record.msg))
    if isinstance(record.args, tuple):
        record.args = tuple(_safe_arg(a) for a in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {k: _safe_arg(v) for k, v in record.args.items()}
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        if _IN_LINES.search(text):
            record.exc_text = escape_controls(text, multiline=True)
    return record
