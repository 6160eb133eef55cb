"""Keep tokens out of third-party log lines.

HubSpot's v1 metadata endpoints put the token in the URL path, and httpx logs every request URL at INFO.
This filter rewrites such records before any handler sees them. Our own log lines never carry tokens.
"""

from __future__ import annotations

import logging
import re

_TOKEN_IN_PATH = re.compile(r"(/oauth/v1/(?:access|refresh)-tokens/)[^\s\"'?/]+")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
LOGGERS = ("httpx", "httpcore", "httpcore.http11", "httpcore.http2", "httpcore.connection", "uvicorn.access",
           "uvicorn.error", "hubspot")


class RedactTokens(logging.Filter):
    """Replace token path segments and Bearer values with ``[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _BEARER.sub(r"\1[redacted]", _TOKEN_IN_PATH.sub(r"\1[redacted]", message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_redaction() -> None:
    """Attach the filter once to the loggers that may see request URLs or headers."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
