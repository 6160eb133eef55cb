"""HubSpot's blocking client keeps no cookies: a cookie one portal's answer sets never rides along with the
next portal's call (the client is shared by every portal of the process).

The sandbox sets no cookies, so a MockTransport plays the answer that does (the only way to produce the case).
"""

from __future__ import annotations

import httpx
import pytest

from dashboard.hubspot.transport import build_http_client


def test_a_cookie_set_by_one_answer_is_not_sent_with_the_next_call() -> None:
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, json={}, headers={"set-cookie": "portal=1001; Path=/"})

    with build_http_client(transport=httpx.MockTransport(answer), timeout=5, pool_size=4) as client:
        client.post("https://api.hubapi.com/oauth/v3/token", data={"hub": "1001"})
        client.post("https://api.hubapi.com/oauth/v3/token", data={"hub": "2002"})
        assert len(client.cookies) == 0
        with pytest.raises(TypeError):
            client.cookies.set("portal", "1001")
        with pytest.raises(TypeError):
            client.cookies = {"portal": "1001"}  # type: ignore[assignment]
    assert sent == [None, None]
