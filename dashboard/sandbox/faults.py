"""Injected faults: extra latency, error statuses, hangs (client timeouts) and malformed bodies.

Rules are set with ``POST /_sandbox/faults`` per target: ``token`` (the OAuth JSON endpoints), ``metadata``
(only token metadata and introspection, which fall back to ``token``), ``api`` (the CRM slice) or ``all``
(used when the specific target has no rule). Each request draws once: with
probability ``timeout_rate`` it hangs, else ``error_rate`` answers ``error_status``, else ``malformed_rate``
answers 200 with a body that is not JSON. ``count`` caps how many responses a rule faults; then it is gone.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from starlette.responses import JSONResponse, Response

from .errors import api_error, rate_limit_body

TARGETS = ("token", "metadata", "api", "all")
ERROR_STATUSES = (429, 500, 502, 503, 504)
MALFORMED_BODY = '{"status": "ok", "results": [{"id": "1", "properties": {"email": "trunc'


@dataclass
class FaultRule:
    """One target's faults; rates are probabilities in [0, 1] and must not add up to more than 1."""

    target: str
    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    timeout_rate: float = 0.0
    malformed_rate: float = 0.0
    retry_after: int | None = None
    count: int | None = None
    timeout_s: float = 30.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        """Validate a ``POST /_sandbox/faults`` body; ``ValueError`` says what is wrong."""
        allowed = set(cls.__dataclass_fields__)
        extra = set(data) - allowed
        if extra:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(extra))}")
        target = data.get("target", "all")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}")
        rule = cls(target=target)
        for name in ("error_rate", "timeout_rate", "malformed_rate"):
            value = data.get(name, 0.0)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1")
            setattr(rule, name, float(value))
        if rule.error_rate + rule.timeout_rate + rule.malformed_rate > 1:
            raise ValueError("error_rate + timeout_rate + malformed_rate must not exceed 1")
        for name, minimum in (("latency_ms", 0), ("retry_after", 0), ("count", 1)):
            value = data.get(name, getattr(rule, name))
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < minimum
            ):
                raise ValueError(f"{name} must be an integer >= {minimum}")
            setattr(rule, name, value)
        rule.latency_ms = rule.latency_ms or 0
        status = data.get("error_status", 503)
        if status not in ERROR_STATUSES:
            raise ValueError(f"error_status must be one of {', '.join(map(str, ERROR_STATUSES))}")
        rule.error_status = status
        timeout_s = data.get("timeout_s", 30.0)
        if not isinstance(timeout_s, int | float) or isinstance(timeout_s, bool) or timeout_s <= 0:
            raise ValueError("timeout_s must be a positive number")
        rule.timeout_s = float(timeout_s)
        return rule

    def to_json(self) -> dict[str, Any]:
        """The rule as ``GET /_sandbox/faults`` shows it (``count`` is what is left)."""
        return asdict(self)


@dataclass(frozen=True)
class Draw:
    """What happens to one request: extra latency and at most one outcome."""

    rule: FaultRule
    latency_s: float
    outcome: str | None  # "timeout" | "error" | "malformed" | None (latency only)


class FaultBook:
    """The active rules, keyed by target."""

    def __init__(self) -> None:
        self.rules: dict[str, FaultRule] = {}

    def set(self, rule: FaultRule) -> None:
        """Install ``rule``, replacing the target's previous one."""
        self.rules[rule.target] = rule

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def to_json(self) -> dict[str, Any]:
        """Every target with its rule or ``None``."""
        return {target: (rule.to_json() if (rule := self.rules.get(target)) else None) for target in TARGETS}

    def draw(self, kind: str, rng: random.Random) -> Draw | None:
        """Decide the fault for one request of ``kind`` (``token`` or ``api``), spending ``count``."""
        rule = self.rules.get(kind)
        if rule is None and kind == "metadata":
            rule = self.rules.get("token")
        rule = rule or self.rules.get("all")
        if rule is None:
            return None
        roll = rng.random()
        outcome: str | None = None
        if roll < rule.timeout_rate:
            outcome = "timeout"
        elif roll < rule.timeout_rate + rule.error_rate:
            outcome = "error"
        elif roll < rule.timeout_rate + rule.error_rate + rule.malformed_rate:
            outcome = "malformed"
        if outcome is None and rule.latency_ms == 0:
            return None
        if rule.count is not None:
            rule.count -= 1
            if rule.count <= 0:
                del self.rules[rule.target]
        return Draw(rule, rule.latency_ms / 1000, outcome)


def fault_response(draw: Draw) -> Response:
    """The response for an ``error``, ``malformed`` or (after the hang) ``timeout`` outcome."""
    rule = draw.rule
    if draw.outcome == "malformed":
        # A truncated JSON document with a JSON content type: what a proxy cutting a body short produces.
        return Response(MALFORMED_BODY, status_code=200, media_type="application/json")
    if draw.outcome == "timeout":
        return JSONResponse(api_error("The request timed out.", "TIMEOUT"), status_code=504)
    if rule.error_status == 429:
        headers = {} if rule.retry_after is None else {"Retry-After": str(rule.retry_after)}
        return JSONResponse(rate_limit_body(), status_code=429, headers=headers)
    return JSONResponse(
        api_error(f"Injected fault: HTTP {rule.error_status}.", "SERVICE_UNAVAILABLE"),
        status_code=rule.error_status,
    )
