"""Tokens for one public endpoint, as ``POST /oauth/token`` issues them (``spcs/oauth_token.py``).

Snowflake exchanges a key-pair JWT or a programmatic access token for a short-lived token whose scope
names one endpoint's host (tutorial "Access the public endpoint programmatically"); the client then
sends it as ``Authorization: Snowflake Token="<token>"``. The samples read its expiry from the token
itself (a JWT with ``exp``), so the emulator's tokens are JWTs too, signed with a key of this process
that is never written anywhere: nothing but this emulator can mint one.

A token names the service and endpoint it was issued for; the ingress refuses it on any other endpoint
(``ingress_auth``), and every other token consumer (the image registry) refuses it outright.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt

ISSUER = "spcs-emulator-endpoint-token"
# The emulator's own choice: Snowflake documents no lifetime for these tokens (the samples renew at
# the token's own ``exp``); an hour is what its key-pair JWTs may live at most.
TOKEN_LIFETIME = 3600.0
_ALGORITHM = "HS256"
_CLAIMS = ("iss", "sub", "iat", "exp", "scope", "svc", "ep")


@dataclass(frozen=True)
class EndpointGrant:
    """What an endpoint token says: whose it is, with which role (None: the user's default, as a
    session that names no role), for which endpoint (its service and name, and the host as scoped),
    and whether it has expired."""

    user: str
    role: str | None
    service: tuple[str, ...]
    endpoint: str
    host: str
    expired: bool


@dataclass
class EndpointTokens:
    """Issues and reads endpoint tokens; ``clock`` (seconds since the epoch) decides expiry."""

    lifetime: float = TOKEN_LIFETIME
    clock: Callable[[], float] = time.time
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def issue(self, user: str, role: str | None, service: tuple[str, ...], endpoint: str, host: str) -> str:
        now = int(self.clock())
        claims = {
            "iss": ISSUER,
            "sub": user,
            "iat": now,
            "exp": now + int(self.lifetime),
            "scope": host,
            "svc": list(service),
            "ep": endpoint,
            "jti": secrets.token_hex(8),
        }
        if role is not None:
            claims["role"] = role
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def grant(self, token: str) -> EndpointGrant | None:
        """The grant of a token this emulator issued (expired ones too, marked so); None for any other."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                issuer=ISSUER,
                # Expiry is this object's clock's to decide (a test moves it), not PyJWT's.
                options={"require": list(_CLAIMS), "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return None
        service, role = claims["svc"], claims.get("role")
        if not (isinstance(service, list) and all(isinstance(part, str) for part in service)):
            return None
        return EndpointGrant(
            user=str(claims["sub"]),
            role=role if isinstance(role, str) else None,
            service=tuple(service),
            endpoint=str(claims["ep"]),
            host=str(claims["scope"]),
            expired=float(claims["exp"]) <= self.clock(),
        )
