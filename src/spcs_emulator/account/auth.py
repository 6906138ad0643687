"""Login: password, key-pair JWT (RSA_PUBLIC_KEY on the user), programmatic access token."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from spcs_emulator import errors
from spcs_emulator.account.objects import User
from spcs_emulator.account.session import Session
from spcs_emulator.account.state import AccountState
from spcs_emulator.protocol.backend import LoginRequest
from spcs_emulator.sql import ast


def normalise_login_name(name: str) -> str:
    # Login names are case-insensitive; the connector sends what the user typed.
    return name.upper()


def find_user(state: AccountState, login_name: str) -> User | None:
    obj = state.catalog.get(ast.USER, (normalise_login_name(login_name),))
    return obj if isinstance(obj, User) else None


def public_key_fingerprint(public_key_b64: str) -> str:
    der = base64.b64decode("".join(public_key_b64.split()))
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()


JWT_MAX_LIFETIME = 3600.0  # seconds from iat to exp
JWT_CLOCK_SKEW = 60.0  # seconds an iat may lie ahead of this clock


def _check_jwt(user: User, token: str) -> None:
    """The JWT must be signed by one of the user's keys (RSA_PUBLIC_KEY or RSA_PUBLIC_KEY_2) and name
    that key's fingerprint in its issuer."""
    invalid = errors.jwt_invalid()
    keys = {public_key_fingerprint(k): k for k in (user.rsa_public_key, user.rsa_public_key_2) if k}
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise invalid from None
    # iss = ACCOUNT.USER.SHA256:<fingerprint>; the account part is whatever the client called us.
    issuer_user, _, fingerprint = str(unverified.get("iss", "")).rpartition(".SHA256:")
    public_key = keys.get("SHA256:" + fingerprint)
    if public_key is None or not issuer_user.upper().endswith("." + user.name):
        raise invalid
    key = serialization.load_der_public_key(base64.b64decode("".join(public_key.split())))
    if not isinstance(key, RSAPublicKey):  # RS256 only, as Snowflake's key-pair authentication
        raise invalid
    try:
        claims = jwt.decode(
            token, key=key, algorithms=["RS256"], options={"require": ["iss", "sub", "exp", "iat"]}
        )
    except jwt.PyJWTError:
        raise invalid from None
    # Snowflake accepts a key-pair JWT for at most an hour after its issue time (docs:
    # developer-guide/sql-api/authenticating, "exp"); a token minted for 2100, or issued a month ago
    # with a far expiry, is refused. An issue time in the future gets the clock skew the connector has.
    now = dt.datetime.now(dt.UTC).timestamp()
    issued, expires = float(claims["iat"]), float(claims["exp"])
    if expires - issued > JWT_MAX_LIFETIME or issued > now + JWT_CLOCK_SKEW:
        raise invalid


def key_pair_user(state: AccountState, token: str) -> User:
    """The user a key-pair JWT is for (its ``sub``, ``ACCOUNT.USER``), checked as at login; a JWT that
    names no user, or fails the checks, raises 390144."""
    try:
        subject = str(jwt.decode(token, options={"verify_signature": False}).get("sub", ""))
    except jwt.PyJWTError:
        raise errors.jwt_invalid() from None
    user = find_user(state, subject.partition(".")[2]) if "." in subject else None
    if user is None:
        raise errors.jwt_invalid()
    _check_jwt(user, token)
    return user


def pat_role_restriction(user: User, secret: str) -> tuple[bool, str | None]:
    """(valid, role restriction) for a programmatic access token of ``user``."""
    now = dt.datetime.now(dt.UTC)
    for token in user.tokens.values():
        if hmac.compare_digest(token.secret, secret) and token.expires_at > now:
            return True, token.role
    return False, None


def is_disabled(user: User) -> bool:
    return user.properties.get("DISABLED") is True


def active_user(state: AccountState, name: str) -> User | None:
    """The user if it still exists and is not disabled (call with the account lock held)."""
    user = state.catalog.get(ast.USER, (name,))
    return user if isinstance(user, User) and not is_disabled(user) else None


def role_usable(state: AccountState, user: str, role: str) -> bool:
    """Whether ``user`` may act with ``role`` now: it exists and is granted, directly or through roles."""
    if state.catalog.get(ast.ROLE, (role,)) is None:
        return False
    return role in state.access.granted_roles(user)


def check_session(state: AccountState, session: Session, *, role: bool = True) -> None:
    """Every statement, ingress request and upload re-checks its session (call with the account lock held):
    ended (user dropped or disabled) -> 390104; a current role no longer granted -> 003013, unless
    ``role`` is False (USE ROLE lets such a session pick another)."""
    if state.sessions.get(session.id) is not session or active_user(state, session.user) is None:
        raise errors.session_ended()
    if role and not role_usable(state, session.user, session.role):
        raise errors.role_not_assigned(session.role)


def authenticate(state: AccountState, request: LoginRequest) -> User:
    user = find_user(state, request.login_name)
    if user is None:
        raise errors.bad_credentials()
    method = (request.authenticator or "SNOWFLAKE").upper()
    if method == "SNOWFLAKE":
        if user.password is None or not hmac.compare_digest(user.password, request.password or ""):
            raise errors.bad_credentials()
    elif method == "SNOWFLAKE_JWT":
        _check_jwt(user, request.token or "")
    elif method == "PROGRAMMATIC_ACCESS_TOKEN":
        valid, _ = pat_role_restriction(user, request.token or "")
        if not valid:
            raise errors.pat_invalid()
    else:
        raise errors.authenticator_not_supported(method)
    if is_disabled(user):  # only after the credentials: a disabled account is not revealed to guessers
        raise errors.user_disabled()
    return user


def open_session(state: AccountState, user: User, request: LoginRequest) -> Session:
    granted = state.access.granted_roles(user.name)
    restriction = None
    if (request.authenticator or "").upper() == "PROGRAMMATIC_ACCESS_TOKEN":
        _, restriction = pat_role_restriction(user, request.token or "")
    role = restriction
    if role is None and request.role:
        role = request.role.upper() if not request.role.startswith('"') else request.role.strip('"')
        if role not in granted:
            raise errors.login_role_not_granted(role)
    if role is None:
        role = user.default_role if user.default_role in granted else "PUBLIC"
    session = Session(
        user=user.name,
        role=role,
        secondary_all="ALL" in user.default_secondary_roles,
        role_restriction=restriction,
    )
    if request.database and state.catalog.get(ast.DATABASE, (request.database.upper(),)):
        session.database = request.database.upper()
        session.schema = (request.schema or "PUBLIC").upper()
    if request.warehouse and state.catalog.get(ast.WAREHOUSE, (request.warehouse.upper(),)):
        session.warehouse = request.warehouse.upper()
    return session
