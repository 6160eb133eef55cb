"""Which receiver addresses a webhook may reach: the SSRF guard.

An endpoint URL must be ``https://`` to a public address. ``http://`` and loopback, private, link-local,
shared (CGNAT), multicast, reserved and cloud metadata addresses are refused, with a sentence saying which
rule failed, unless ``DASHBOARD_WEBHOOK_ALLOW_PRIVATE=true`` (tests and on-premise receivers). The check runs
when an endpoint is added and again before every attempt (DNS can change): the attempt then connects to the
address that was checked, never to a second lookup's answer.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from dashboard.errors import InputError

Resolver = Callable[[str, int], list[str]]
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data", "metadata.azure.com"})
_METADATA_IPS = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                           ipaddress.ip_address("100.100.100.200")})


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and the host name to present (Host, TLS SNI)."""

    scheme: str
    host: str
    port: int
    address: str


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"the webhook host {host[:100]!r} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a public one, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA_IPS:
        return "a cloud metadata address"
    for test, name in ((ip.is_loopback, "a loopback address"), (ip.is_unspecified, "an unspecified address"),
                       (ip.is_link_local, "a link-local address"), (ip.is_private, "a private address"),
                       (ip.is_multicast, "a multicast address"), (ip.is_reserved, "a reserved address"),
                       (not ip.is_global, "not a public address")):
        if test:
            return name
    return None


def check_url(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> Target:
    """The checked target of ``url``, or :class:`InputError` naming the rule it breaks."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise InputError("the webhook URL is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise InputError("the webhook URL must be an absolute https:// URL")
    if parts.username or parts.password:
        raise InputError("the webhook URL must not hold a user name or password")
    if parts.scheme == "http" and not allow_private:
        raise InputError("the webhook URL must use https:// (plain http:// is allowed only with "
                         "DASHBOARD_WEBHOOK_ALLOW_PRIVATE=true)")
    port = port or (443 if parts.scheme == "https" else 80)
    if not allow_private and host.rstrip(".").lower() in METADATA_HOSTS:
        raise InputError(f"the webhook host {host!r} is a cloud metadata service")
    addresses = resolver(host, port)
    if not addresses:
        raise InputError(f"the webhook host {host[:100]!r} does not resolve")
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem is not None:
                raise InputError(f"the webhook host {host[:100]!r} resolves to {address}, {problem}; only public "
                                 "addresses are allowed (DASHBOARD_WEBHOOK_ALLOW_PRIVATE=true allows others)")
    return Target(parts.scheme, host, port, addresses[0])
