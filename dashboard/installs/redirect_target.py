"""Where HubSpot sends the browser back after consent, compared with where this dashboard answers.

HubSpot redirects to ``HUBSPOT_REDIRECT_URI`` exactly; if that is not this server (another port, a bind
address ``localhost`` does not reach), every install ends on "connection refused". In sandbox mode with no
redirect URI set, the URI follows the port the server listens on (``--server.port`` or
``STREAMLIT_SERVER_PORT``); otherwise the pages say, in red, what to set. Pure functions: the port and
address come from whoever knows them (the entry script, the pages).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from dashboard.security.host_rules import is_loopback
from dashboard.settings import Settings

INSTALL_PATH = "/install"
# Bind addresses that localhost reaches: loopback itself, or every interface.
_ALL_INTERFACES = ("", "0.0.0.0", "::", "[::]")  # noqa: S104  (compared with, never bound to)


def local_redirect_uri(port: int) -> str:
    """The redirect URI of a dashboard on this machine's ``port`` (HubSpot: http only with localhost)."""
    return f"http://localhost:{port}{INSTALL_PATH}"


def follow_server(settings: Settings, *, port: int | None) -> Settings:
    """``settings`` with the redirect URI on ``port`` in sandbox mode when HUBSPOT_REDIRECT_URI is not set;
    unchanged otherwise (a set value is the operator's: the pages check it instead)."""
    if port is None or not settings.sandbox_mode or "hubspot_redirect_uri" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"hubspot_redirect_uri": local_redirect_uri(port)})


def redirect_mismatch(redirect_uri: str, *, address: str | None, port: int) -> str | None:
    """Why HubSpot's redirect to ``redirect_uri`` would not reach a server on ``address``:``port``, with
    what to set; None when it does, or when it cannot be told (a public name: a proxy may forward it)."""
    try:
        parts = urlsplit(redirect_uri)
        target_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None  # check_redirect_uri reports a malformed value
    if parts.hostname != "localhost":
        return None
    fix = f"set HUBSPOT_REDIRECT_URI={local_redirect_uri(port)} (and list it in the app's Auth settings)"
    if target_port != port:
        return (f"HUBSPOT_REDIRECT_URI sends the browser to port {target_port}, but this dashboard answers on "
                f"port {port}: installs would end on 'connection refused'. Either {fix}, or start the "
                f"dashboard with --server.port {target_port}.")
    if (address or "").strip() not in _ALL_INTERFACES and not is_loopback(address):
        return (f"This dashboard listens on {address} only, which localhost does not reach: set "
                "server.address to 127.0.0.1, or point HUBSPOT_REDIRECT_URI at a name that reaches "
                f"{address}:{port} over https.")
    if parts.path.rstrip("/") != INSTALL_PATH:
        return f"HUBSPOT_REDIRECT_URI must end in {INSTALL_PATH} (the page that completes installs): {fix}."
    return None
