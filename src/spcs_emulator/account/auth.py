"""Login: password, key-pair JWT (RSA_PUBLIC_KEY on the user), programmatic access token."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import TYPE_CHECKING

import jwt
from cryptography.hazmat.primitives import serialization

from spcs_emulator import errors
from spcs_emulator.account.objects import User
from spcs_emulator.account.session import Session
from spcs_emulator.protocol.backend import LoginRequest
from spcs_emulator.sql import ast

if TYPE_CHECKING:
    from spcs_emulator.account.engine import Account


def _bad_credentials() -> errors.SnowflakeError:
    return errors.SnowflakeError(390100, "08004", "Incorrect username or password was specified.")


def normalise_login_name(name: str) -> str:
    # Login names are case-insensitive; the connector sends what the user typed.
    return name.upper()


def find_user(account: Account, login_name: str) -> User | None:
    obj = account.catalog.get(ast.USER, (normalise_login_name(login_name),))
    return obj if isinstance(obj, User) else None


def public_key_fingerprint(public_key_b64: str) -> str:
    der = base64.b64decode("".join(public_key_b64.split()))
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def _check_jwt(user: User, token: str) -> None:
    if not user.rsa_public_key:
        raise errors.SnowflakeError(390144, "08004", "JWT token is invalid.")
    der = base64.b64decode("".join(user.rsa_public_key.split()))
    key = serialization.load_der_public_key(der)
    try:
        claims = jwt.decode(
            token, key=key, algorithms=["RS256"], options={"require": ["iss", "sub", "exp", "iat"]}
        )
    except jwt.PyJWTError:
        raise errors.SnowflakeError(390144, "08004", "JWT token is invalid.") from None
    # iss = ACCOUNT.USER.SHA256:<fingerprint>; the account part is whatever the client called us.
    issuer_user, _, fingerprint = claims["iss"].rpartition(".SHA256:")
    if not issuer_user.upper().endswith("." + user.name) or "SHA256:" + fingerprint != public_key_fingerprint(
        user.rsa_public_key
    ):
        raise errors.SnowflakeError(390144, "08004", "JWT token is invalid.")


def pat_role_restriction(user: User, secret: str) -> tuple[bool, str | None]:
    """(valid, role restriction) for a programmatic access token of ``user``."""
    now = dt.datetime.now(dt.UTC)
    for token_secret, role, expires in user.tokens.values():
        if hmac.compare_digest(token_secret, secret) and expires > now:
            return True, role
    return False, None


def authenticate(account: Account, request: LoginRequest) -> User:
    user = find_user(account, request.login_name)
    if user is None or user.properties.get("DISABLED") is True:
        raise _bad_credentials()
    method = (request.authenticator or "SNOWFLAKE").upper()
    if method == "SNOWFLAKE":
        if user.password is None or not hmac.compare_digest(user.password, request.password or ""):
            raise _bad_credentials()
    elif method == "SNOWFLAKE_JWT":
        _check_jwt(user, request.token or "")
    elif method == "PROGRAMMATIC_ACCESS_TOKEN":
        valid, _ = pat_role_restriction(user, request.token or "")
        if not valid:
            raise errors.SnowflakeError(394400, "08004", "Programmatic access token is invalid.")
    else:
        raise errors.SnowflakeError(
            390100, "08004", f"Authenticator {method} is not supported by the emulator."
        )
    return user


def open_session(account: Account, user: User, request: LoginRequest) -> Session:
    granted = account.access.closure(account.access.roles_of_user(user.name))
    role = None
    if (request.authenticator or "").upper() == "PROGRAMMATIC_ACCESS_TOKEN":
        _, role = pat_role_restriction(user, request.token or "")
    if role is None and request.role:
        role = request.role.upper() if not request.role.startswith('"') else request.role.strip('"')
        if role not in granted:
            raise errors.SnowflakeError(
                390189,
                "08004",
                f"Role '{role}' specified in the connect string is not granted to this user. "
                "Contact your local system administrator, or attempt to login with another role, e.g. PUBLIC.",
            )
    if role is None:
        role = user.default_role if user.default_role in granted else "PUBLIC"
    session = Session(user=user.name, role=role, secondary_all="ALL" in user.default_secondary_roles)
    if request.database and account.catalog.get(ast.DATABASE, (request.database.upper(),)):
        session.database = request.database.upper()
        session.schema = (request.schema or "PUBLIC").upper()
    if request.warehouse and account.catalog.get(ast.WAREHOUSE, (request.warehouse.upper(),)):
        session.warehouse = request.warehouse.upper()
    return session
