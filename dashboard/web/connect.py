"""``GET /connect/<opaque id>``: a sendable link, opened by the customer's browser (no sign-in needed).

A usable link gets a fresh ``state`` and a 302 to HubSpot's consent page (the sandbox's in sandbox
mode); a used, revoked, expired or unknown one gets a short page saying so, and nothing is sent to
HubSpot. The page is plain HTML with the message escaped: it shows no data and links nowhere.
"""

from __future__ import annotations

import html

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dashboard.errors import DashboardError, StateError
from dashboard.installs import links as install_links
from dashboard.web.runtime import shared_context

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
STATUS = {"link_unknown": 404, "link_used": 410, "link_revoked": 410, "link_expired": 410, "link_busy": 429}


def message_page(title: str, message: str, *, status: int) -> Response:
    """A page with one heading and one sentence, both escaped; no scripts, images or links."""
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<meta name='referrer' content='no-referrer'></head>"
            f"<body style='font-family:sans-serif;max-width:40em;margin:4em auto'><h1>{html.escape(title)}</h1>"
            f"<p id='message'>{html.escape(message)}</p></body></html>")
    return HTMLResponse(body, status_code=status, headers={
        **NO_STORE, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


async def connect(request: Request) -> Response:
    ctx = shared_context()
    if ctx is None:
        return message_page("Connect HubSpot", "The dashboard is not ready; try again in a minute.", status=503)
    token = str(request.path_params.get("token", ""))
    try:
        url = await run_in_threadpool(install_links.open_link, ctx, token=token)
    except StateError as exc:
        return message_page("Connect HubSpot", exc.description, status=STATUS.get(exc.code, 400))
    except DashboardError:
        return message_page("Connect HubSpot", "The dashboard could not open this link right now; try again "
                                               "later.", status=503)
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


def routes() -> list[BaseRoute]:
    return [Route(install_links.CONNECT_PATH + "{token}", connect, methods=["GET"])]
