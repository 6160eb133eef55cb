"""Rotation grace period (``rotation_grace_s``), and requests that outlive their client.

The grace period is our choice (HubSpot documents no rotation at all): a refresh token rotated less than
``rotation_grace_s`` ago, whose successor is still unused, refreshes once more and answers that same
successor, so a client that lost an answer recovers. Without it, rotation is strict.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.utils.sandbox_oauth import CLIENT, issue, refresh


@pytest.fixture(autouse=True)
def rotating(http: httpx.Client) -> None:
    """Rotation is off by default (HubSpot documents none); every test here is about rotation."""
    http.post("/_sandbox/config", json={"rotate_refresh_tokens": True}).raise_for_status()


def live_refresh(http: httpx.Client, token: str) -> dict[str, object]:
    rows = http.get("/_sandbox/tokens").json()["tokens"]
    return next(r for r in rows if r["token"] == token)


def test_without_grace_a_rotated_token_is_dead(http: httpx.Client) -> None:
    old = issue(http)["refresh_token"]
    assert refresh(http, old).status_code == 200
    assert refresh(http, old).json()["error"] == "invalid_grant"
    assert (live_refresh(http, old)["active"], live_refresh(http, old)["in_grace"]) == (False, False)


def test_within_grace_the_old_token_answers_the_same_successor(http: httpx.Client) -> None:
    http.post("/_sandbox/config", json={"rotation_grace_s": 30}).raise_for_status()
    old = issue(http)["refresh_token"]
    first = refresh(http, old).json()
    assert (live_refresh(http, old)["active"], live_refresh(http, old)["in_grace"]) == (False, True)
    again = refresh(http, old).json()
    assert again["refresh_token"] == first["refresh_token"]
    assert again["access_token"] != first["access_token"]
    stats = http.get("/_sandbox/stats").json()
    assert stats["grace_reuses"] == 1 and stats["errors"].get("invalid_grant", 0) == 0


def test_grace_ends_when_the_successor_is_used_or_the_time_is_up(http: httpx.Client) -> None:
    http.post("/_sandbox/config", json={"rotation_grace_s": 30}).raise_for_status()
    old = issue(http)["refresh_token"]
    successor = refresh(http, old).json()["refresh_token"]
    assert refresh(http, successor).status_code == 200  # the chain moved on: only the last step has grace
    assert refresh(http, old).json()["error"] == "invalid_grant"

    other = issue(http)["refresh_token"]
    assert refresh(http, other).status_code == 200
    http.post("/_sandbox/clock", json={"advance": 31}).raise_for_status()
    assert refresh(http, other).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("bad", [-1, "5", True, 86_401])
def test_grace_setting_is_validated(http: httpx.Client, bad: object) -> None:
    assert http.post("/_sandbox/config", json={"rotation_grace_s": bad}).status_code == 400
    assert http.get("/_sandbox/config").json()["rotation_grace_s"] == 0


def test_a_refresh_whose_client_gave_up_is_still_processed(http: httpx.Client) -> None:
    """The request was sent: like a real server, the sandbox rotates even though nobody reads the answer."""
    http.post("/_sandbox/config", json={"latency_ms": 300}).raise_for_status()
    old = issue(http)["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": old, **CLIENT}
    with pytest.raises(httpx.ReadTimeout):
        http.post("/oauth/v1/token", data=form, timeout=0.1)
    time.sleep(0.5)
    assert live_refresh(http, old)["active"] is False
    assert http.get("/_sandbox/stats").json()["token_requests"]["refresh_token"] == 1
