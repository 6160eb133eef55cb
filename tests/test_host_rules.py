"""The Host/Origin rule behind loopback trust (``dashboard.security.host_rules``), over random names, ports and
origins."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dashboard.security.access import decide
from dashboard.security.host_rules import allowed, loopback_host, same_origin
from dashboard.settings import load_settings

PORT = 8541
LOOPBACK_NAMES = ["localhost", "127.0.0.1", "127.3.4.5", "[::1]", "LOCALHOST", "localhost."]
labels = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
foreign_names = st.builds(lambda a, b: f"{a}.{b}", labels, st.sampled_from(["test", "com", "attacker.test"])) | \
    st.sampled_from(["10.0.0.5", "192.168.1.20", "0.0.0.0", "[fe80::1]", "169.254.1.1", "localhost.attacker.test",
                     "127.0.0.1.nip.io"])
ports = st.integers(min_value=1, max_value=65535)


@given(name=st.sampled_from(LOOPBACK_NAMES))
def test_loopback_on_the_listening_port_is_served(name: str) -> None:
    host = f"{name}:{PORT}"
    assert allowed(kind="http", host=host, origin=None, port=PORT, sign_in=False) is None
    assert allowed(kind="websocket", host=host, origin=f"http://{host}", port=PORT, sign_in=False) is None


@given(name=foreign_names, port=ports)
def test_any_other_name_is_refused_without_sign_in(name: str, port: int) -> None:
    host = f"{name}:{port}"
    assert allowed(kind="http", host=host, origin=None, port=PORT, sign_in=False) is not None
    assert allowed(kind="websocket", host=host, origin=f"http://{host}", port=PORT, sign_in=False) is not None


@given(name=st.sampled_from(LOOPBACK_NAMES), port=ports)
def test_a_loopback_name_on_another_port_is_refused(name: str, port: int) -> None:
    if port != PORT:
        assert not loopback_host(f"{name}:{port}", port=PORT)


@given(origin_host=foreign_names | st.sampled_from(["127.0.0.1:1", "localhost:9"]), kind=st.sampled_from(
    ["http", "websocket"]))
def test_a_foreign_origin_is_refused_even_with_a_loopback_host(origin_host: str, kind: str) -> None:
    origin = f"http://{origin_host}"
    assert allowed(kind=kind, host=f"localhost:{PORT}", origin=origin, port=PORT, sign_in=False) is not None
    if kind == "websocket":  # with sign-in too: a foreign page must not drive a signed-in session
        assert allowed(kind=kind, host="dash.example.com", origin=origin, port=PORT, sign_in=True) is not None


def test_with_sign_in_any_host_is_served_and_listed_origins_may_connect() -> None:
    assert allowed(kind="http", host="dash.example.com", origin=None, port=PORT, sign_in=True) is None
    assert allowed(kind="websocket", host="dash.example.com", origin="https://dash.example.com", port=PORT,
                   sign_in=True) is None
    assert allowed(kind="websocket", host="dash.example.com", origin="https://proxy.example.com/", port=PORT,
                   sign_in=True, trusted_origins=["https://proxy.example.com"]) is None


@given(value=st.text(max_size=60))
def test_malformed_host_headers_are_refused(value: str) -> None:
    served = allowed(kind="http", host=value, origin=None, port=PORT, sign_in=False) is None
    assert served == loopback_host(value, port=PORT)  # random text is served only if it is a loopback Host
    assert allowed(kind="http", host=None, origin=None, port=PORT, sign_in=False) is not None
    assert not same_origin("null", value)


def test_pages_refuse_a_rebound_name_as_they_refuse_a_non_loopback_bind() -> None:
    settings = load_settings({}, secrets_path=None)
    ok = decide(sign_in_configured=False, logged_in=False, email=None, server_address="127.0.0.1", settings=settings,
                request_host=f"localhost:{PORT}", request_origin=f"http://localhost:{PORT}", server_port=PORT)
    assert ok.actor is not None
    rebound = decide(sign_in_configured=False, logged_in=False, email=None, server_address="127.0.0.1",
                     settings=settings, request_host=f"rebind.attacker.test:{PORT}", server_port=PORT)
    assert rebound.actor is None and "not a loopback address" in rebound.reason and "[auth]" in rebound.reason
