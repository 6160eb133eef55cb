"""Where the sandbox follows HubSpot's documents, and the switches for what they leave open.

HubSpot's guides and OpenAPI files are the default; behaviour they do not document is a setting, so tests
can run the client against each plausible answer:

* Token bodies per API version (:func:`token_fields`). V1GUIDE's example has exactly four fields; V3GUIDE's
  adds ``hub_id`` and ``scopes``, and the v3 / 2026-03 SPEC requires ``token_use``. ``rich_token_body``
  restores every optional field (``user_id`` too) on every version.
* Uninstalled apps: a refresh answers ``BAD_REFRESH_TOKEN`` (nango's report) or, with
  ``uninstall_mode="bad_hub"``, ``BAD_HUB`` / ``access_denied`` (PostHog's fixtures; fact sheet §2).
* Revoking a token that is already dead: HubSpot documents no answer; success by default,
  ``revoke_dead_token_status`` 400 / 401 / 404 answers ``BAD_REFRESH_TOKEN`` with that status.
"""

from __future__ import annotations

UNINSTALL_MODES = ("bad_refresh_token", "bad_hub")
REVOKE_DEAD_STATUSES = (200, 400, 401, 404)

V1_FIELDS = ("token_type", "refresh_token", "access_token", "expires_in")
V3_FIELDS = (*V1_FIELDS, "hub_id", "scopes", "token_use")
RICH_FIELDS = (*V3_FIELDS, "user_id")


def token_fields(version: str | None, *, rich: bool) -> tuple[str, ...]:
    """The fields a token response carries for ``version`` (``None``: a control, always rich)."""
    if rich or version is None:
        return RICH_FIELDS
    return V1_FIELDS if version == "v1" else V3_FIELDS


def check_uninstall_mode(value: object) -> str:
    """``value`` if it is an uninstall mode, else ``ValueError``."""
    if value not in UNINSTALL_MODES:
        raise ValueError(f"'uninstall_mode' must be one of {', '.join(UNINSTALL_MODES)}")
    return str(value)


def check_revoke_status(value: object) -> int:
    """``value`` if it is a status a dead-token revoke may answer, else ``ValueError``."""
    if isinstance(value, bool) or value not in REVOKE_DEAD_STATUSES:
        raise ValueError(f"'revoke_dead_token_status' must be one of {', '.join(map(str, REVOKE_DEAD_STATUSES))}")
    return int(value)  # type: ignore[call-overload]
