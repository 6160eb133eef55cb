"""The health banner's sentences read as a support person reads them: a plain UTC time, one full stop, and the
breaker's probe period as configured (tests/e2e/test_outage_journey.py shows them in Chromium)."""

from __future__ import annotations

from dashboard.ui.health_banner import banner_lines


def report(**hubspot: object) -> dict[str, object]:
    return {"hubspot": {"degraded": False, "since": None, "reason": None, **hubspot},
            "configuration": {"problem": False, "since": None, "reason": None}, "keys": []}


def test_the_degraded_banner_names_the_time_the_answer_and_the_probe_period() -> None:
    reason = "refreshes failing across portals; HubSpot answered: HTTP 503, Injected fault."
    [line] = banner_lines(report(degraded=True, since="2026-12-05T14:12:16.182301+00:00", reason=reason),
                          probe_s=30.0)
    assert line.startswith("HubSpot degraded since 2026-12-05 14:12:16 UTC: refreshes failing across portals; "
                           "HubSpot answered: HTTP 503, Injected fault. Refreshes are paused: ")
    assert "one probe refresh every 30 s" in line
    assert ".." not in line


def test_no_banner_while_hubspot_answers() -> None:
    assert banner_lines(report()) == []
