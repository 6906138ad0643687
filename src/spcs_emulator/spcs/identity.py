"""Who holds a token: a session token's user and roles, a programmatic access token's, or an endpoint
token's (``POST /oauth/token``; only the endpoint it names accepts it: see ``ingress_auth``).

Decided on the account's state now: a session whose user was dropped or disabled, or whose current role
is no longer granted, and a PAT or endpoint token of a disabled user or of a revoked role, are refused
with the reason (never the token). The ingress and the image registry both ask here.
"""

from __future__ import annotations

from collections.abc import Callable

from spcs_emulator.account.access import RoleId
from spcs_emulator.account.auth import (
    active_user,
    check_session,
    is_disabled,
    pat_role_restriction,
    role_usable,
)
from spcs_emulator.account.objects import User
from spcs_emulator.account.session import Session
from spcs_emulator.account.state import AccountState
from spcs_emulator.errors import SESSION_ENDED, SnowflakeError
from spcs_emulator.spcs.endpoint_tokens import EndpointGrant
from spcs_emulator.sql import ast

# A token -> its live session, the grant of an endpoint token, or None for a token that is neither.
SessionResolver = Callable[[str], Session | EndpointGrant | None]


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


def grant_identity(account: AccountState, grant: EndpointGrant) -> tuple[str, set[RoleId]]:
    """An endpoint token's user and roles now: its scoped role's closure, or, with none, what a fresh
    session of the user would act with (its default role, plus every granted role with default
    secondary roles ALL), as a Snowflake OAuth token without a role scope."""
    if grant.expired:
        raise Refused("the endpoint token has expired")
    user = active_user(account, grant.user)
    if user is None:
        raise Refused(f"user {grant.user} no longer exists or is disabled")
    access = account.access
    if grant.role is not None:
        if not role_usable(account, user.name, grant.role):
            raise Refused(f"role {grant.role} is no longer granted to user {user.name}")
        return user.name, access.closure([grant.role])
    # As a login picks it (account/auth.open_session): the default role if still granted, else PUBLIC.
    primary = (
        user.default_role
        if user.default_role and role_usable(account, user.name, user.default_role)
        else "PUBLIC"
    )
    roles = access.closure([primary])
    if "ALL" in user.default_secondary_roles:
        roles |= access.granted_roles(user.name)
    return user.name, roles


def pat_owner(account: AccountState, secret: str) -> tuple[User, str | None] | None:
    """(user, role restriction) of a live programmatic access token; None for any other string."""
    for user in account.catalog.all(ast.USER):
        if isinstance(user, User) and user.tokens:
            valid, role = pat_role_restriction(user, secret)
            if valid:
                return user, role
    return None


def identity(account: AccountState, sessions: SessionResolver, token: str) -> tuple[str, set[RoleId]] | None:
    """(user, roles) for a session token or a programmatic access token; None for an unknown token.
    An endpoint token is refused here: only its endpoint's ingress takes it (``ingress_auth``)."""
    found = sessions(token)
    if isinstance(found, EndpointGrant):
        raise Refused("a token issued for an SPCS endpoint is accepted by that endpoint only")
    if found is not None:
        return session_identity(account, found)
    owner = pat_owner(account, token)
    return None if owner is None else pat_identity(account, *owner)
