"""How the harness reaches a public SPCS endpoint: its URL as SHOW ENDPOINTS gives it, and the
``Authorization: Snowflake Token="<token>"`` header Snowflake documents for programmatic access
(tutorial "Access the public endpoint programmatically"; reference/snowflake.md §4.4).

- **URL**: an account's ``ingress_url`` is a bare host (``<hash>-<org>-<acct>.snowflakecomputing.app``)
  reached over HTTPS; the emulator's is ``127.0.0.1:<port>`` on loopback, over plain HTTP. A URL with a
  scheme is kept, except plain HTTP to a host that is not loopback (a token would cross the network
  in clear).
- **Token**: a session token (or a PAT) is sent as is (:class:`DirectToken`); a key-pair JWT or a PAT
  can instead be exchanged at the account's ``/oauth/token`` for a short-lived token whose scope names
  the endpoint's host, optionally with ``session:role:<ROLE>`` (:class:`ExchangedToken`), renewed
  before its own ``exp``.

Credentials never show: they are :class:`Secret` (repr ``****``), kept out of reprs, and an exchange's
failure says what the server answered, never what was sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from milvus_spcs.errors import HarnessError
from milvus_spcs.secret import Secret

TOKEN_PATH = "/oauth/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
PAT_TOKEN_TYPE = "programmatic_access_token"
# Snowflake accepts a key-pair JWT for at most an hour; the samples sign for 59 minutes.
JWT_LIFETIME = dt.timedelta(minutes=59)
RENEW_BEFORE_EXPIRY = 60.0  # seconds: an exchanged token is renewed this long before its exp
UNKNOWN_EXPIRY = 600.0  # seconds an exchanged token is kept if it carries no readable exp
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# host[:port]: DNS labels, or a bracketed IPv6 address (SHOW ENDPOINTS' ingress_url has no path).
_HOST = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::\d{{1,5}})?$")


class IngressAuthError(HarnessError):
    """An endpoint URL the harness cannot use, or a token exchange the account refused."""


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def endpoint_url(ingress_url: str) -> str:
    """``scheme://host[:port]`` of an endpoint from SHOW ENDPOINTS' ``ingress_url`` (or a URL)."""
    text = ingress_url.strip()
    scheme, _, rest = text.rpartition("://")
    host = rest.rstrip("/")
    if scheme and scheme.lower() not in ("http", "https"):
        raise IngressAuthError(f"an endpoint URL is http or https, not {scheme}: {ingress_url!r}")
    if not _HOST.match(host):
        raise IngressAuthError(f"not an endpoint host (as SHOW ENDPOINTS gives it): {ingress_url!r}")
    loopback = _is_loopback(urlsplit(f"//{host}").hostname or "")
    if not scheme:
        scheme = "http" if loopback else "https"
    elif scheme.lower() == "http" and not loopback:
        raise IngressAuthError(f"a token is sent to {host} over https only, not http")
    return f"{scheme.lower()}://{host.lower()}"


def endpoint_host(url: str) -> str:
    """The host (with its port, if any) of an endpoint URL: what an exchange's scope names."""
    return urlsplit(endpoint_url(url)).netloc


def account_base_url(host: str, *, port: int | None = None, protocol: str = "https") -> str:
    """The account's base URL (where ``/oauth/token`` is): ``<account>.snowflakecomputing.com`` over
    https, or the emulator's SQL endpoint (``127.0.0.1``, its port, http)."""
    netloc = host if port in (None, 443 if protocol == "https" else 80) else f"{host}:{port}"
    return endpoint_url(f"{protocol}://{netloc}")


class IngressCredentials(Protocol):
    """What goes in the Authorization header: ``token()`` is called for every request."""

    def token(self) -> Secret: ...


@dataclass(frozen=True)
class DirectToken:
    """A token sent as is: a connector session's token (``conn.rest.token``), or a PAT."""

    value: Secret = field(repr=False)

    def token(self) -> Secret:
        return self.value


def authorization(credentials: IngressCredentials | str) -> dict[str, str]:
    """The Authorization header for a request to the endpoint (a str is a token sent as is)."""
    token = credentials if isinstance(credentials, str) else credentials.token()
    return {"Authorization": f'Snowflake Token="{token}"'}


def _load_private_key(private_key: bytes | Path, passphrase: bytes | None) -> RSAPrivateKey:
    pem = private_key.read_bytes() if isinstance(private_key, Path) else private_key
    key = serialization.load_pem_private_key(pem, passphrase)
    if not isinstance(key, RSAPrivateKey):
        raise IngressAuthError("key-pair authentication needs an RSA private key")
    return key


def key_pair_jwt(account: str, user: str, key: RSAPrivateKey, *, now: dt.datetime | None = None) -> Secret:
    """A key-pair JWT as Snowflake documents it: ``iss`` ACCOUNT.USER.SHA256:<public key fingerprint>,
    ``sub`` ACCOUNT.USER (upper case; the account without region or domain), RS256, 59 minutes."""
    account_id = account.split(".", 1)[0].upper()
    qualified = f"{account_id}.{user.upper()}"
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()
    issued = now or dt.datetime.now(dt.UTC)
    claims = {
        "iss": f"{qualified}.{fingerprint}",
        "sub": qualified,
        "iat": issued,
        "exp": issued + JWT_LIFETIME,
    }
    return Secret(jwt.encode(claims, key, algorithm="RS256"))


def _expiry(token: str, now: float) -> float:
    """When an exchanged token stops being renewed-free: its ``exp`` (read, not verified: it is the
    server's to verify), less a margin."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        exp = None
    if not isinstance(exp, int | float):
        return now + UNKNOWN_EXPIRY
    return float(exp) - RENEW_BEFORE_EXPIRY


@dataclass
class ExchangedToken:
    """A token of one endpoint, exchanged at ``<account_url>/oauth/token`` for a key-pair JWT or a PAT
    (build with :meth:`for_key_pair` or :meth:`for_pat`); fetched when first needed, renewed before it
    expires."""

    account_url: str
    endpoint: str  # the endpoint's host as SHOW ENDPOINTS gives it, or its URL
    form: Callable[[], dict[str, str]] = field(repr=False)  # the grant's fields (a fresh JWT each time)
    role: str | None = None
    timeout: float = 60.0
    clock: Callable[[], float] = field(default=time.time, repr=False)
    _token: Secret | None = field(default=None, repr=False)
    _renew_at: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_pat(cls, account_url: str, endpoint: str, pat: str, *, role: str | None = None) -> ExchangedToken:
        secret = Secret(pat)
        return cls(
            account_url,
            endpoint,
            lambda: {
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": secret,
                "subject_token_type": PAT_TOKEN_TYPE,
            },
            role,
        )

    @classmethod
    def for_key_pair(
        cls,
        account_url: str,
        endpoint: str,
        *,
        account: str,
        user: str,
        private_key: bytes | Path,
        passphrase: bytes | None = None,
        role: str | None = None,
    ) -> ExchangedToken:
        key = _load_private_key(private_key, passphrase)
        return cls(
            account_url,
            endpoint,
            lambda: {"grant_type": JWT_BEARER, "assertion": key_pair_jwt(account, user, key)},
            role,
        )

    @property
    def scope(self) -> str:
        host = endpoint_host(self.endpoint)
        return f"session:role:{self.role} {host}" if self.role else host

    def token(self) -> Secret:
        with self._lock:
            now = self.clock()
            if self._token is None or now >= self._renew_at:
                self._token = self._exchange()
                self._renew_at = _expiry(self._token, now)
            return self._token

    def _exchange(self) -> Secret:
        form = self.form()
        url = endpoint_url(self.account_url) + TOKEN_PATH
        try:
            response = requests.post(url, data={**form, "scope": self.scope}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise IngressAuthError(f"token exchange at {url}: {type(exc).__name__}") from None
        if response.status_code != 200 or not response.text.strip():
            raise IngressAuthError(
                f"token exchange at {url} refused: {_refusal(response, list(form.values()))}"
            )
        return Secret(response.text.strip())


def _refusal(response: requests.Response, sent: list[str]) -> str:
    """HTTP status, OAuth error word and message of a refused exchange, any sent secret masked."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = (
        f"{body.get('error') or ''} {body.get('message') or body.get('error_description') or ''}".strip()
        if isinstance(body, dict)
        else ""
    )
    text = f"HTTP {response.status_code} {detail or response.reason}".strip()
    for value in sent:  # the grant's own fields (a JWT, a PAT) never reach a message
        if value:
            text = text.replace(value, "****")
    return text


def credentials_of(token: IngressCredentials | str) -> IngressCredentials:
    """A token as the callers hand it: a str is sent as is (a session token or a PAT)."""
    return DirectToken(Secret(token)) if isinstance(token, str) else token
