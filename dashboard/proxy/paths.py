"""Pure rules of the proxy: which path may go to HubSpot, which headers go each way, what a 429 means.

No I/O here. The path is checked on its raw (still percent-encoded) form, as the caller sent it: a decoded
path cannot tell ``a%2Fb`` from ``a/b``, and HubSpot would decode it once more. Anything that could leave
the API host or climb out of the path (``..``, ``.``, encoded slashes or backslashes, ``//``, a scheme,
control characters, double encoding) is refused before anything is sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

from dashboard.errors import InputError

# Headers a caller may send on to HubSpot (an allowlist: Authorization, cookies, hop-by-hop, Host,
# X-Forwarded-* and anything else never reach HubSpot).
FORWARDED_REQUEST_HEADERS = frozenset({
    "accept", "accept-language", "content-type", "if-match", "if-none-match", "if-modified-since",
    "if-unmodified-since",
})
# Headers of HubSpot's answer the caller gets back (Set-Cookie, hop-by-hop and encodings never).
RETURNED_RESPONSE_HEADERS = frozenset({
    "content-type", "retry-after", "etag", "last-modified", "x-hubspot-correlation-id",
    "x-hubspot-ratelimit-max", "x-hubspot-ratelimit-remaining", "x-hubspot-ratelimit-interval-milliseconds",
    "x-hubspot-ratelimit-daily", "x-hubspot-ratelimit-daily-remaining",
})
READ_METHODS = frozenset({"GET", "HEAD"})
ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_SEGMENT = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@%]*$")  # RFC 3986 pchar
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
MAX_PATH = 2048


def bad_path(reason: str) -> InputError:
    return InputError(f"the proxied path is refused: {reason}; send a HubSpot API path such as "
                      "/crm/v3/objects/contacts", code="bad_path")


def resolve_path(raw: str) -> str:
    """The path to send to HubSpot's API host, unchanged, or :class:`InputError` (``bad_path``, HTTP 400).

    ``raw`` is what follows ``/proxy`` in the request's raw path, e.g. ``/crm/v3/objects/contacts``.
    """
    if not raw.startswith("/") or raw == "/":
        raise bad_path("it must start with / and name an API")
    if len(raw) > MAX_PATH:
        raise bad_path("it is too long")
    if "//" in raw:
        raise bad_path("empty segments (//) are not allowed")
    for escape in _PERCENT.findall(raw):
        code = int(escape, 16)
        if code < 0x20 or code == 0x7F or chr(code) in "/\\%?#.":
            raise bad_path("encoded slashes, backslashes, dots, percent signs or control characters "
                           "are not allowed")
    if "%" in _PERCENT.sub("", raw):
        raise bad_path("a % must start a percent-encoding")
    for segment in raw[1:].split("/"):
        if not _SEGMENT.match(segment):
            raise bad_path("it holds characters a URL path cannot (backslashes, spaces, control characters)")
        if unquote(segment) in (".", ".."):
            raise bad_path("'.' and '..' segments are not allowed")
    first = raw[1:].split("/", 1)[0]
    if ":" in first:
        raise bad_path("absolute URLs are not allowed")
    return raw


def target_url(base_url: str, path: str, query: str) -> str:
    """``base_url`` + ``path`` (+ ``?query``), checked to stay on the base URL's host and under its path."""
    url = base_url.rstrip("/") + path + (f"?{query}" if query else "")
    base, target = urlsplit(base_url), urlsplit(url)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc) or \
            not target.path.startswith(base.path.rstrip("/") + "/"):
        raise bad_path("it leaves HubSpot's API host")
    return url


def request_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The caller's headers that may reach HubSpot (lower-cased names)."""
    return {name.lower(): value for name, value in headers if name.lower() in FORWARDED_REQUEST_HEADERS}


def response_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """HubSpot's headers that go back to the caller."""
    return {name.lower(): value for name, value in headers if name.lower() in RETURNED_RESPONSE_HEADERS}


@dataclass(frozen=True)
class Window:
    """HubSpot's burst window for a portal: ``limit`` requests per ``interval_ms``."""

    limit: int
    interval_ms: int


DEFAULT_WINDOW = Window(100, 10_000)  # the "100 per 10 s until known" (HubSpot's lowest tier)


def learned_window(headers: Mapping[str, str]) -> Window | None:
    """The window HubSpot announced in ``X-HubSpot-RateLimit-Max`` / ``-Interval-Milliseconds``, if sane."""
    try:
        limit = int(headers.get("x-hubspot-ratelimit-max", ""))
        interval = int(headers.get("x-hubspot-ratelimit-interval-milliseconds", ""))
    except ValueError:
        return None
    if not (1 <= limit <= 100_000 and 100 <= interval <= 86_400_000):
        return None
    return Window(limit, interval)


def retry_after_seconds(headers: Mapping[str, str], policy: str | None, interval_ms: int,
                        now: datetime | None = None) -> int:
    """Seconds for ``Retry-After`` on HubSpot's 429: its own header if sent, the rest of the day for the
    ``DAILY`` policy (HubSpot resets at the account's midnight; we do not know its zone, so UTC midnight),
    else one burst interval."""
    sent = headers.get("retry-after", "")
    if sent.isdigit():
        return max(1, int(sent))
    if policy == "DAILY":
        now = now or datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1, math.ceil((midnight - now).total_seconds()))
    return max(1, math.ceil(interval_ms / 1000))
