"""HubSpot hub (account) ids: the one range check every entry point uses (API, CLI, pages, links, keys).

A hub id is a positive whole number that fits the database's BIGINT: 1 .. 2**63 - 1. Text is read as ASCII
digits only: ``str.isdigit`` and ``int()`` also take fullwidth and other Unicode digits (``"１２"`` is 12,
``"²"`` passes ``isdigit`` and fails ``int``), and ``int()`` of a 50,000-digit string is slow work and a
``ValueError`` of its own. Anything else is :class:`InputError`, a one-line message (HTTP 400, CLI exit 2).
"""

from __future__ import annotations

import re
from typing import Final

from dashboard.errors import InputError

MAX_HUB_ID: Final = 2**63 - 1
_ASCII_DIGITS: Final = re.compile(r"[0-9]{1,19}")  # 2**63 - 1 has 19 digits: longer text is out of range


def check_hub_id(value: int, *, what: str = "the hub id") -> int:
    """``value`` when it is a whole number in 1 .. 2**63 - 1, else :class:`InputError`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_HUB_ID:
        shown = str(value) if isinstance(value, int) and value.bit_length() < 128 else "a larger number"
        raise InputError(f"{what} must be a positive whole number up to {MAX_HUB_ID}, not {shown}",
                         code="invalid_hub_id")
    return value


def parse_hub_id(text: str, *, what: str = "the hub id") -> int:
    """The hub id written in ``text`` (ASCII digits, surrounding spaces allowed), else :class:`InputError`."""
    stripped = text.strip()
    if _ASCII_DIGITS.fullmatch(stripped) is None:
        # At most 24 characters, and at most 60 once escaped: a character outside the BMP escapes to 10
        # (\U0001xxxx), and 24 of them made a 340-character "one-line" message.
        prefix = stripped[:24]
        while len(repr(prefix)) > 60:
            prefix = prefix[:-1]
        shown = repr(prefix) + ("…" if len(prefix) < len(stripped) else "")
        raise InputError(f"{what} must be a positive whole number up to {MAX_HUB_ID} in digits 0-9, not {shown}",
                         code="invalid_hub_id")
    return check_hub_id(int(stripped), what=what)
