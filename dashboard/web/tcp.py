"""TCP_NODELAY for the server's listening socket: without it every keep-alive response waits ~40 ms.

Streamlit (1.67) binds its listening socket itself with ``socket.socket(family=...)``, so the socket's
``proto`` is 0, and asyncio only sets TCP_NODELAY on accepted connections whose ``proto`` is
``IPPROTO_TCP``. Nagle's algorithm then holds the response body until the client acknowledges the headers,
and the client delays that acknowledgement by 40 ms: 44 ms for every request on a kept-alive connection
(measured: ``/_stcore/health`` and the token API alike), whatever the handler costs. On Linux an accepted
socket inherits TCP_NODELAY from the listening socket, so setting it there once, at startup, fixes every
connection. The socket is found among this process's objects: it is bound before the lifespan runs.
"""

from __future__ import annotations

import gc
import logging
import socket

log = logging.getLogger(__name__)


def set_nodelay_on_listeners() -> int:
    """Set TCP_NODELAY on every listening TCP socket of this process; how many were changed."""
    changed = 0
    for obj in gc.get_objects():
        if not isinstance(obj, socket.socket) or obj.fileno() < 0:
            continue
        try:
            if obj.family not in (socket.AF_INET, socket.AF_INET6) or obj.type != socket.SOCK_STREAM:
                continue
            if not obj.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                continue
            if not obj.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY):
                obj.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                changed += 1
        except OSError:
            continue
    log.debug("TCP_NODELAY set on %d listening socket(s)", changed)
    return changed
