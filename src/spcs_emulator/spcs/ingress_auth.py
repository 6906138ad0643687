"""Who may use a public endpoint: the service's owner role, or a role granted a service role that
covers the endpoint (ALL_ENDPOINTS_USAGE covers all), as since the 2024_04 bundle (reference §4.5).

Every request is decided on the account's state now: a session whose user was dropped or disabled, or
whose current role is no longer granted, and a PAT of a disabled user or of a revoked role, get nothing.
The control plane calls this with the account lock held and hands over what it knows of the service
(:class:`ServiceAccess`) and how to find a session by its token: this module knows no control plane.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from spcs_emulator.account.access import RoleId, ServiceRole
from spcs_emulator.account.auth import (
    check_session,
    is_disabled,
    pat_role_restriction,
    role_usable,
)
from spcs_emulator.account.objects import User
from spcs_emulator.account.session import Session
from spcs_emulator.account.state import AccountState
from spcs_emulator.errors import SESSION_ENDED, SnowflakeError
from spcs_emulator.sql import ast

# A session token -> its live session, or None for a token that is no session's.
SessionResolver = Callable[[str], Session | None]


@dataclass(frozen=True)
class ServiceAccess:
    """What decides access to a service's endpoints: its owner role and its service roles."""

    fqn: tuple[str, ...]
    owner: str | None
    service_roles: Mapping[str, tuple[str, ...]]  # service role -> the endpoints it covers


class _Refused(Exception):
    """The token was valid once but the access behind it is gone; the message says why (no secrets)."""


def _session_identity(account: AccountState, session: Session) -> tuple[str, set[RoleId]]:
    """The statements' own re-check (auth.check_session) and role set (session_roles), not a copy."""
    try:
        check_session(account, session)
    except SnowflakeError as error:
        if error.errno == SESSION_ENDED:
            raise _Refused("the session has ended") from None
        raise _Refused(f"role {session.role} is no longer granted to user {session.user}") from None
    return session.user, account.access.session_roles(session)


def _pat_identity(account: AccountState, user: User, role: str | None) -> tuple[str, set[RoleId]]:
    access = account.access
    if is_disabled(user):
        raise _Refused(f"user {user.name} is disabled")
    if role is None:
        return user.name, access.granted_roles(user.name)
    if not role_usable(account, user.name, role):
        raise _Refused(f"role {role} is no longer granted to user {user.name}")
    return user.name, access.closure([role])


def _identity(account: AccountState, sessions: SessionResolver, token: str) -> tuple[str, set[RoleId]] | None:
    """(user, roles) for a session token or a programmatic access token; None for an unknown token."""
    session = sessions(token)
    if session is not None:
        return _session_identity(account, session)
    for user in account.catalog.all(ast.USER):
        if isinstance(user, User) and user.tokens:
            valid, role = pat_role_restriction(user, token)
            if valid:
                return _pat_identity(account, user, role)
    return None


def authorize_endpoint(
    account: AccountState,
    sessions: SessionResolver,
    service: ServiceAccess | None,
    endpoint: str,
    token: str | None,
) -> tuple[bool, str | None, str]:
    """(allowed, user or None, why) for ``token`` on ``endpoint``; ``service`` None: it was dropped."""
    if not token:
        return False, None, "no credentials"
    if not any(i.subtype == ast.SECURITY_INTEGRATION for i in account.catalog.all(ast.INTEGRATION)):
        return False, None, "the account has no SNOWSERVICES_INGRESS security integration"
    try:
        identity = _identity(account, sessions, token)
    except _Refused as refused:
        return False, None, str(refused)
    if identity is None:
        return False, None, "the token is invalid or expired"
    user, roles = identity
    if service is None:
        return False, user, "the service no longer exists"
    if service.owner in roles:
        return True, user, "owner"
    for role, endpoints in service.service_roles.items():
        if endpoint in endpoints and ServiceRole(service.fqn, role) in roles:
            return True, user, f"service role {role}"
    return False, user, f"user {user} has no role with access to endpoint {endpoint}"
