"""Fixtures for the sandbox's own tests: a real server over loopback, reset before every test.

The sandbox tests use their own server (``sb``) so they never disturb the session sandbox that the
dashboard's tests share. Tests that need a differently configured app start one with ``make_sandbox``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dashboard.sandbox import SandboxConfig, SandboxServer


@pytest.fixture
def sb(sandbox: SandboxServer) -> SandboxServer:
    """The session's sandbox (tests/conftest.py), back at its configured start: no tokens, faults, stats."""
    return sandbox


@pytest.fixture
def http(sb: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.url, timeout=10) as client:
        yield client


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start extra sandboxes with their own config; all are stopped after the test."""
    started: list[SandboxServer] = []

    def make(**overrides: Any) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**overrides)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
