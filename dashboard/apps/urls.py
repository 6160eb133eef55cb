"""The URL and secret rules an app's settings obey: HubSpot's redirect URI rule, absolute base URLs, no
placeholder secrets. Shared by the single-app settings (dashboard/settings.py) and ``[apps.<id>]`` tables
(dashboard/apps/config.py), so both refuse the same values with the same words.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from dashboard.errors import RedirectUriError

# Values people paste from examples; refused outside the sandbox (FastAPI template's rule).
PLACEHOLDER_SECRETS = frozenset({"changethis", "change-me", "changeme", "secret", "your-client-secret", "xxx"})


# Browsers (WHATWG URL) read a host whose last label is a number as IPv4: 127.1, 2130706433, 0x7f.1.
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$", re.IGNORECASE)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return bool(_NUMERIC_LABEL.match(host.rstrip(".").rsplit(".", 1)[-1]))
    return True


def check_redirect_uri(value: str) -> str:
    """HubSpot's rule: https, or http only with host ``localhost``; never an IP address.

    Raises :class:`RedirectUriError` with the rule that failed (the Settings page shows it as is).
    """
    absolute = "must be an absolute http(s) URL such as https://dashboard.example.com/install"
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number in 0-65535)
    except ValueError:  # "[::1", ":99999", ...
        raise RedirectUriError(absolute) from None
    if not host or parts.scheme not in ("http", "https"):
        raise RedirectUriError(absolute)
    if _is_ip(host):
        raise RedirectUriError(f"HubSpot refuses IP-address hosts ({host}); use a domain name, e.g. localhost")
    if parts.scheme == "http" and host != "localhost":
        raise RedirectUriError("must use https; plain http is allowed only with host localhost")
    if parts.fragment:
        raise RedirectUriError("must not contain a #fragment")
    return value


def check_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    return value.rstrip("/")


