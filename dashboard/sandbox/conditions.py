"""Network conditions on the HubSpot-facing endpoints: configured latency plus injected faults.

A pure ASGI middleware, so it wraps every OAuth JSON endpoint (``token`` target) and every API endpoint
(``api`` target) in one place. The consent pages and ``/_sandbox/`` controls are never slowed or faulted:
tests must always be able to reach the controls. Sleeping uses ``asyncio`` so latency never serializes
requests.

The request is read in full before the latency passes and the endpoint runs: a request the client has sent
is processed even if the client dies or gives up meanwhile, as at a real server. (Read after the delay, a
killed client's refresh would never rotate its token, and crash tests would under-count lost tokens.)
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import fault_response
from .state import SandboxState

_TOKEN_PATH = re.compile(r"^/oauth/(v1|v3|2026-03)/")
_METADATA_PATH = re.compile(r"^/oauth/(v1/(access|refresh)-tokens/|(v3|2026-03)/token/introspect)")
_API_PATH = re.compile(r"^/(crm|account-info|appinstalls)/")


def target_of(path: str, method: str = "GET") -> str | None:
    """``metadata`` for token metadata, ``token`` for the other OAuth JSON endpoints, ``api`` for the API
    slice, ``None`` for everything else."""
    if _METADATA_PATH.match(path) and method != "DELETE":  # v1's DELETE is a revoke
        return "metadata"
    if _TOKEN_PATH.match(path):
        return "token"
    if _API_PATH.match(path):
        return "api"
    return None


class ConditionsMiddleware:
    """Apply ``latency_ms`` and the fault rules before the endpoint runs."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Delay and maybe replace the response of a HubSpot-facing request."""
        kind = target_of(scope["path"], scope.get("method", "GET")) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        body: list[Message] = []
        while not body or body[-1].get("more_body", False):
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before its request arrived: nothing was sent to answer
            body.append(message)

        async def replay() -> Message:
            return body.pop(0) if body else await receive()

        receive = replay
        state = self.state
        draw = state.faults.draw(kind, state.rng)
        delay = state.settings.latency_ms / 1000 + (draw.latency_s if draw else 0.0)
        await state.sleep(delay)
        if draw is None or draw.outcome is None:
            await self.app(scope, receive, send)
            return
        state.stats.faults += 1
        if draw.outcome == "timeout":
            # Hang long enough for the client to give up; shutdown wakes the sleep early.
            await state.sleep(draw.rule.timeout_s)
        await fault_response(draw)(scope, receive, send)
