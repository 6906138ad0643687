"""Who may use a public endpoint: the service's owner role, or a role granted a service role that
covers the endpoint (ALL_ENDPOINTS_USAGE covers all), as since the 2024_04 bundle (reference §4.5).

Every request is decided on the account's state now: a session whose user was dropped or disabled, or
whose current role is no longer granted, and a PAT of a disabled user or of a revoked role, get nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spcs_emulator.account.access import service_role_key
from spcs_emulator.account.auth import (
    SESSION_ENDED,
    check_session,
    is_disabled,
    pat_role_restriction,
    role_usable,
)
from spcs_emulator.account.context import Context
from spcs_emulator.account.objects import User
from spcs_emulator.account.session import Session
from spcs_emulator.errors import SnowflakeError
from spcs_emulator.sql import ast

if TYPE_CHECKING:
    from spcs_emulator.spcs.control import ControlPlane


class _Refused(Exception):
    """The token was valid once but the access behind it is gone; the message says why (no secrets)."""


def _session_identity(cp: ControlPlane, session: Session) -> tuple[str, set[str]]:
    """The statements' own re-check (auth.check_session) and role set (Context.roles), not a copy."""
    try:
        check_session(cp.account, session)
    except SnowflakeError as error:
        if error.errno == SESSION_ENDED:
            raise _Refused("the session has ended") from None
        raise _Refused(f"role {session.role} is no longer granted to user {session.user}") from None
    return session.user, Context(cp.account, session).roles()


def _pat_identity(cp: ControlPlane, user: User, role: str | None) -> tuple[str, set[str]]:
    access = cp.account.access
    if is_disabled(user):
        raise _Refused(f"user {user.name} is disabled")
    if role is None:
        return user.name, access.granted_roles(user.name)
    if not role_usable(cp.account, user.name, role):
        raise _Refused(f"role {role} is no longer granted to user {user.name}")
    return user.name, access.closure([role])


def _identity(cp: ControlPlane, token: str) -> tuple[str, set[str]] | None:
    """(user, roles) for a session token or a programmatic access token; None for an unknown token."""
    session = cp.token_resolver(token)
    if session is not None:
        return _session_identity(cp, session)
    for user in cp.account.catalog.all(ast.USER):
        if isinstance(user, User) and user.tokens:
            valid, role = pat_role_restriction(user, token)
            if valid:
                return _pat_identity(cp, user, role)
    return None


def authorize_endpoint(
    cp: ControlPlane, service_fqn: tuple[str, ...], endpoint: str, token: str | None
) -> tuple[bool, str | None, str]:
    if not token:
        return False, None, "no credentials"
    if not any(i.subtype == ast.SECURITY_INTEGRATION for i in cp.account.catalog.all(ast.INTEGRATION)):
        return False, None, "the account has no SNOWSERVICES_INGRESS security integration"
    try:
        identity = _identity(cp, token)
    except _Refused as refused:
        return False, None, str(refused)
    if identity is None:
        return False, None, "the token is invalid or expired"
    user, roles = identity
    state = cp.services.get(service_fqn)
    if state is None:
        return False, user, "the service no longer exists"
    owner = cp.account.access.owner(ast.SERVICE, service_fqn)
    if owner in roles:
        return True, user, "owner"
    for role, endpoints in state.spec.service_roles.items():
        if endpoint in endpoints and service_role_key(service_fqn, role) in roles:
            return True, user, f"service role {role}"
    return False, user, f"user {user} has no role with access to endpoint {endpoint}"
