"""What is kept of HubSpot's answer to a failed call: its fields, redacted, escaped and capped. Pure.

HubSpot's error bodies are JSON objects with ``status``, ``message``, ``correlationId`` and ``category``
(fact sheet §8); the token endpoints add ``error`` / ``error_description``. A body that is not such an
object (an HTML error page from a proxy, a huge or binary body) is kept as text. Whatever is kept:
anything that looks like a token is replaced by ``[redacted]`` (a body may echo the request), control
characters are escaped as ``\\xNN`` (a terminal or a log must not obey them), and it is capped at
:data:`MAX_KEPT` characters. Showing it is still escaped where it is shown (it stays foreign text).
"""

from __future__ import annotations

import json
import re
from typing import Any

from dashboard.errors import HubSpotAnswer

MAX_KEPT = 2048
MAX_FIELD = 64
# Tokens and secrets: long runs of token characters (HubSpot's are 30+ characters; its correlation ids are
# UUIDs with dashes, kept in their own field), and Bearer values.
_TOKENISH = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9_~+/=.:-]{32,}")
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UUID = re.compile(r"^[0-9a-fA-F-]{8,64}$")


def safe_text(text: str, cap: int = MAX_KEPT, secrets: tuple[str, ...] = ()) -> str:
    """``text`` redacted, control characters escaped, at most ``cap`` characters (``…`` marks a cut)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _BEARER.sub(r"\1[redacted]", text)
    text = _TOKENISH.sub(lambda m: m.group(0) if _UUID.match(m.group(0)) else "[redacted]", text)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256
                        else f"\\u{ord(m.group(0)):04x}", text)
    return text if len(text) <= cap else text[: cap - 1] + "…"


def _field(data: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return safe_text(str(value), MAX_FIELD)
    return None


def kept_answer(http_status: int | None, body: bytes) -> HubSpotAnswer:
    """The fields of a failed call's answer; a body that is not a JSON object is kept as (safe) text."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raw = body[: MAX_KEPT * 4].decode("utf-8", errors="replace")
        return HubSpotAnswer(http_status=http_status, body=safe_text(raw) if raw else None)
    message = data.get("message") or data.get("error_description")
    return HubSpotAnswer(
        http_status=http_status,
        status=_field(data, "status", "error"),
        category=_field(data, "category"),
        message=safe_text(str(message)) if isinstance(message, str | int) and str(message) else None,
        correlation_id=_field(data, "correlationId", "correlation_id"),
    )
