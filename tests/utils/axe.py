"""axe-core in the browser tests (``axe-playwright-python``): the serious and critical violations of a page."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

SERIOUS = ("serious", "critical")
# Moderate in axe-core, but a screen-reader user navigates by headings: held to the same bar (issue 28).
ALSO = ("heading-order",)
_axe = Axe()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on ``page`` as drawn now, serious or worse, and heading-order:
    each as its rule id, impact and up to three offending elements (a readable assertion message)."""
    results = _axe.run(page, options={"resultTypes": ["violations"]})
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in SERIOUS or violation["id"] in ALSO:
            nodes = [" ".join(n.get("target", [])) + ": " + n.get("failureSummary", "")[:200]
                     for n in violation["nodes"][:3]]
            found.append({"id": violation["id"], "impact": violation["impact"], "nodes": nodes})
    return found
