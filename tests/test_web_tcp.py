"""TCP_NODELAY reaches the connections a pre-bound listening socket accepts (the Streamlit server's case)."""

from __future__ import annotations

import socket

from dashboard.web.tcp import set_nodelay_on_listeners


def test_accepted_connections_inherit_nodelay() -> None:
    listener = socket.socket(family=socket.AF_INET)  # as Streamlit binds it: proto 0
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        assert not listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert set_nodelay_on_listeners() >= 1
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        listener.close()
