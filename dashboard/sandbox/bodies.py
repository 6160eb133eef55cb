"""Reading request bodies: HubSpot's form-encoded OAuth bodies and the controls' JSON bodies."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request


async def form_fields(request: Request) -> dict[str, str]:
    """The form's text fields (first value of each); file parts are ignored."""
    form = await request.form()
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, value)
    return fields


class BodyError(ValueError):
    """A control request's JSON body is missing or malformed."""


async def json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; ``{}`` for an empty body when ``optional``."""
    raw = await request.body()
    if not raw.strip():
        if optional:
            return {}
        raise BodyError("a JSON object body is required")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BodyError(f"body is not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise BodyError("body must be a JSON object")
    return data


def optional_int(data: dict[str, Any], name: str) -> int | None:
    """An integer field of a JSON body, or ``None`` when absent (``BodyError`` if not an integer)."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BodyError(f"'{name}' must be an integer")
    return value


def required_int(data: dict[str, Any], name: str) -> int:
    """An integer field that must be present (``BodyError`` otherwise)."""
    value = optional_int(data, name)
    if value is None:
        raise BodyError(f"'{name}' is required")
    return value
