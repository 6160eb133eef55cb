"""The webhook SSRF guard: https to public addresses only, unless DASHBOARD_WEBHOOK_ALLOW_PRIVATE=true; checked
when an endpoint is added and again before every attempt (on SQLite and PostgreSQL)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.context import build_context
from dashboard.errors import InputError
from dashboard.webhooks import endpoints, events, outbox, ssrf
from dashboard.webhooks.delivery import deliver_due
from tests.utils.lifecycle import ADMIN
from tests.utils.webhook_receiver import Receiver, webhook_receiver


def resolves_to(*addresses: str) -> ssrf.Resolver:
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(("url", "rule"), [
    ("http://hooks.example.com/x", "must use https://"),
    ("ftp://hooks.example.com/x", "absolute https://"),
    ("https:///nohost", "absolute https://"),
    ("https://user:pw@hooks.example.com/", "user name or password"),
    ("https://127.0.0.1/", "loopback"),
    ("https://[::1]/", "loopback"),
    ("https://10.1.2.3/", "private"),
    ("https://192.168.0.10/", "private"),
    ("https://172.16.5.4/", "private"),
    ("https://[fd12::1]/", "private"),
    ("https://169.254.169.254/latest/meta-data", "metadata"),
    ("https://169.254.1.1/", "link-local"),
    ("https://[fe80::1]/", "link-local"),
    ("https://100.64.0.1/", "public address"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://[::ffff:127.0.0.1]/", "loopback"),
    ("https://metadata.google.internal/computeMetadata/v1/", "metadata"),
])
def test_refused_with_the_rule_it_breaks(url: str, rule: str) -> None:
    with pytest.raises(InputError, match=rule):
        ssrf.check_url(url, allow_private=False)


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    with pytest.raises(InputError, match=r"resolves to 10\.0\.0\.5, a private address"):
        ssrf.check_url("https://hooks.example.com/x", allow_private=False,
                       resolver=resolves_to("93.184.215.14", "10.0.0.5"))  # any private answer refuses
    with pytest.raises(InputError, match="loopback"):
        ssrf.check_url("https://localhost/x", allow_private=False)


def test_public_https_passes_and_names_the_checked_address() -> None:
    target = ssrf.check_url("https://hooks.example.com:8443/x?y=1", allow_private=False,
                            resolver=resolves_to("93.184.215.14"))
    assert target == ssrf.Target("https", "hooks.example.com", 8443, "93.184.215.14")


def test_allow_private_lets_local_receivers_in() -> None:
    assert ssrf.check_url("http://127.0.0.1:9000/h", allow_private=True).address == "127.0.0.1"
    assert ssrf.check_url("https://10.0.0.1/h", allow_private=True).address == "10.0.0.1"


@given(st.ip_addresses())
def test_only_global_addresses_pass(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    try:
        ssrf.check_url(f"https://{host}/", allow_private=False, resolver=resolves_to(str(ip)))
    except InputError:
        return
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    assert mapped.is_global and not mapped.is_private and not mapped.is_loopback and not mapped.is_link_local


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def test_service_refuses_private_urls_and_rechecks_at_delivery(settings_factory: Any, receiver: Receiver) -> None:
    strict = build_context(settings_factory(), migrate=True, start_sandbox=False)
    lenient = build_context(settings_factory(dashboard_webhook_allow_private=True), start_sandbox=False)
    try:
        with pytest.raises(InputError, match="must use https://"):
            endpoints.add_endpoint(strict, actor=ADMIN, url=receiver.url)
        endpoints.add_endpoint(lenient, actor=ADMIN, url=receiver.url)  # allowed then ...
        with strict.session() as s:
            outbox.enqueue(s, event_type=events.TEST, data={"app": strict.app_id, "hub_id": None, "hub_domain": None,
                                                            "status": "test", "reason": "x", "scopes": [],
                                                            "endpoint_id": 1})
            s.commit()
        result = deliver_due(strict)  # ... but this worker does not allow private receivers
        assert result.retrying == 1 and receiver.received == []
        (row,) = endpoints.list_deliveries(strict, actor=ADMIN)
        assert (row.last_error or "").startswith("refused before sending: the webhook URL must use https://")
    finally:
        strict.close()
        lenient.close()
