"""The test OpenID provider's signing key: an RSA key made at start, published as a JWK, signing RS256 JWTs.

Built on ``cryptography`` alone (already a runtime dependency), so the provider needs no JOSE library and the
tests can check its tokens with an independent one (joserfc, which Authlib uses).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_BITS = 2048


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")


def half_hash(value: str) -> str:
    """``at_hash`` / ``c_hash`` for RS256: the left half of SHA-256 of the ASCII value (OIDC Core §3.1.3.6)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


class SigningKey:
    """One RSA key: ``kid`` is its RFC 7638 thumbprint, so the JWKS and the JWT header always agree."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._key = private_key
        numbers = private_key.public_key().public_numbers()
        self._public = {"e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)}
        self.kid = b64url(hashlib.sha256(_json(self._public)).digest())

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh 2048-bit key (~50 ms)."""
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS))

    def jwk(self) -> dict[str, str]:
        """The public key as published at ``/oidc/jwks``."""
        return {**self._public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact RS256 JWS over ``claims``."""
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{b64url(_json(header))}.{b64url(_json(claims))}".encode("ascii")
        signature = self._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode('ascii')}.{b64url(signature)}"
