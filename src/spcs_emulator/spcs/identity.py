"""Who holds a token: a session token's user and roles, or a programmatic access token's.

Decided on the account's state now: a session whose user was dropped or disabled, or whose current role
is no longer granted, and a PAT of a disabled user or of a revoked role, are refused with the reason
(never the token). The ingress and the image registry both ask here.
"""

from __future__ import annotations

from collections.abc import Callable

from spcs_emulator.account.access import RoleId
from spcs_emulator.account.auth import check_session, is_disabled, pat_role_restriction, role_usable
from spcs_emulator.account.objects import User
from spcs_emulator.account.session import Session
from spcs_emulator.account.state import AccountState
from spcs_emulator.errors import SESSION_ENDED, SnowflakeError
from spcs_emulator.sql import ast

# A session token -> its live session, or None for a token that is no session's.
SessionResolver = Callable[[str], Session | None]


class Refused(Exception):
    """The token was valid once but the access behind it is gone; the message says why (no secrets)."""


def session_identity(account: AccountState, session: Session) -> tuple[str, set[RoleId]]:
    """The statements' own re-check (auth.check_session) and role set (session_roles), not a copy."""
    try:
        check_session(account, session)
    except SnowflakeError as error:
        if error.errno == SESSION_ENDED:
            raise Refused("the session has ended") from None
        raise Refused(f"role {session.role} is no longer granted to user {session.user}") from None
    return session.user, account.access.session_roles(session)


def pat_identity(account: AccountState, user: User, role: str | None) -> tuple[str, set[RoleId]]:
    access = account.access
    if is_disabled(user):
        raise Refused(f"user {user.name} is disabled")
    if role is None:
        return user.name, access.granted_roles(user.name)
    if not role_usable(account, user.name, role):
        raise Refused(f"role {role} is no longer granted to user {user.name}")
    return user.name, access.closure([role])


def identity(account: AccountState, sessions: SessionResolver, token: str) -> tuple[str, set[RoleId]] | None:
    """(user, roles) for a session token or a programmatic access token; None for an unknown token."""
    session = sessions(token)
    if session is not None:
        return session_identity(account, session)
    for user in account.catalog.all(ast.USER):
        if isinstance(user, User) and user.tokens:
            valid, role = pat_role_restriction(user, token)
            if valid:
                return pat_identity(account, user, role)
    return None
