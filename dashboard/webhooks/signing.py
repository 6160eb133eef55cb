"""Standard Webhooks signing: ``whsec_`` secrets and the ``webhook-id`` / ``-timestamp`` / ``-signature`` headers.

The ``standardwebhooks`` package computes each signature (``v1,<base64 HMAC-SHA256 of id.timestamp.body>``),
so our headers are what any receiver's off-the-shelf library checks. After a rotation the header carries one
signature per valid secret, space-separated: the receiver accepts the message with either secret.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105  (the prefix Standard Webhooks secrets carry, not a secret)
SECRET_BYTES = 32  # HMAC-SHA256's block of entropy; the spec asks for 24 to 64 bytes


def new_secret() -> str:
    """A new endpoint secret, ``whsec_<base64 of 32 random bytes>``: shown once, stored encrypted."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_header(msg_id: str, at: datetime, body: bytes, secrets_: Sequence[str]) -> str:
    """``v1,<sig>`` per secret, space-separated (newest first)."""
    return " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets_)


def headers(msg_id: str, at: datetime, body: bytes, secrets_: Sequence[str]) -> dict[str, str]:
    """The request headers of one attempt; ``at`` is the attempt's time (receivers refuse stale timestamps)."""
    return {"content-type": "application/json", "user-agent": "hubspot-dashboard-webhooks/1",
            "webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature_header(msg_id, at, body, secrets_)}
