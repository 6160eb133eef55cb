"""Keep secrets out of every log line: ours, httpx's, uvicorn's and any library's, at every level.

Secrets travel in URLs: HubSpot's v1 metadata endpoints put the token in the path, an alert webhook URL (a
Slack webhook URL) is itself the credential, a callback carries ``code`` and ``state``, a sendable link's
path is its key, a Redis or PostgreSQL URL may hold a password. httpx logs every request URL at INFO, so
``-v`` would print them. One function, :func:`redact`, rewrites a message; it is applied to every record
as it is made (a log record factory, so records of every logger and level pass through it before any
filter or handler sees them), and also kept as a filter on the loggers that see URLs, for handlers that
replay records made elsewhere. The settings' secret values (``SecretStr``) are registered when a context
is built (:func:`register_secrets`): their text, wherever it appears, becomes ``[redacted]`` (a URL keeps
its scheme and host, so the log still says where a request went).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from dashboard.security.terminal_text import escape_record

REDACTED = "[redacted]"
_TOKEN_IN_PATH = re.compile(r"(/oauth/v1/(?:access|refresh)-tokens/)[^\s\"'?/]+")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s/@:]*:)[^\s/@]+(@)", re.IGNORECASE)
_SECRET_PARAM = re.compile(r"([?&](?:code|state|token|access_token|refresh_token|client_secret|hapikey|key|"
                           r"api_key|signature)=)[^\s&#\"']+", re.IGNORECASE)
_LINK_PATH = re.compile(r"(/connect/)[A-Za-z0-9_-]{16,}")
_SLACK_HOOK = re.compile(r"(hooks\.slack\.com/)[^\s\"']+", re.IGNORECASE)
MIN_SECRET = 8  # shorter registered values would redact ordinary words
LOGGERS = ("httpx", "httpcore", "httpcore.http11", "httpcore.http2", "httpcore.connection", "uvicorn.access",
           "uvicorn.error", "hubspot")

_lock = threading.Lock()
_recent: dict[str, str] = {}  # text to find -> replacement, in registration order
_secrets: tuple[tuple[str, str], ...] = ()  # the same, longest first (what redact() reads, lock-free)
# A process builds one context (tests build thousands): the newest secrets are kept, a bounded number.
MAX_SECRETS = 256
_base_factory: Callable[..., logging.LogRecord] | None = None


def _replacements(value: str) -> list[tuple[str, str]]:
    """What to look for when ``value`` is a secret: the value, and for a URL its path and query too."""
    found = [(value, REDACTED)]
    try:
        parts = urlsplit(value)
    except ValueError:
        return found
    if parts.scheme and parts.hostname:
        found[0] = (value, f"{parts.scheme}://{parts.hostname}/{REDACTED}")
        rest = value.split(parts.netloc, 1)[1] if parts.netloc else ""
        if len(rest) >= MIN_SECRET:
            found.append((rest, f"/{REDACTED}"))
    return found


def register_secrets(values: Iterable[str | None]) -> None:
    """Redact each of ``values`` (and, for URLs, their path and query) from every later log line."""
    global _secrets  # one process-wide list: every logger reads it
    with _lock:
        known = dict(_recent)
        for value in values:
            if value and len(value) >= MIN_SECRET:
                for text, shown in _replacements(value):
                    if len(text) >= MIN_SECRET:
                        known.pop(text, None)
                        known[text] = shown  # newest last
        _recent.clear()
        _recent.update(list(known.items())[-MAX_SECRETS:])
        _secrets = tuple(sorted(_recent.items(), key=lambda item: -len(item[0])))


def redact(message: str) -> str:
    """``message`` without registered secrets, tokens in URL paths, Bearer values, URL passwords, secret
    query parameters, link ids and Slack webhook paths."""
    for text, shown in _secrets:
        if text in message:
            message = message.replace(text, shown)
    message = _TOKEN_IN_PATH.sub(r"\1" + REDACTED, message)
    message = _BEARER.sub(r"\1" + REDACTED, message)
    message = _URL_PASSWORD.sub(r"\1" + REDACTED + r"\2", message)
    message = _SECRET_PARAM.sub(r"\1" + REDACTED, message)
    message = _LINK_PATH.sub(r"\1" + REDACTED, message)
    return _SLACK_HOOK.sub(r"\1" + REDACTED, message)


def _clean(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is logging's to report, not ours
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        if redact(text) != text:
            record.exc_text = redact(text)


class RedactTokens(logging.Filter):
    """Apply :func:`redact` to a record (for loggers whose records may have been made elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _clean(record)
        return True


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _base_factory is not None
    record = _base_factory(*args, **kwargs)
    _clean(record)  # secrets out first: the patterns match the raw text
    return escape_record(record)  # then foreign control characters shown escaped (dashboard/security/terminal_text.py)


def install_redaction() -> None:
    """Redact and escape every record as it is made (once per process; the one record factory, so two
    installers never wrap each other), and filter the loggers that see URLs."""
    global _base_factory  # the factory is process-wide in logging itself
    with _lock:
        if logging.getLogRecordFactory() is not _factory:
            _base_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_factory)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
