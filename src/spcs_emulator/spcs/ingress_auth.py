"""Who may use a public endpoint: the service's owner role, or a role granted a service role that
covers the endpoint (ALL_ENDPOINTS_USAGE covers all), as since the 2024_04 bundle (reference §4.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from spcs_emulator.account.access import service_role_key
from spcs_emulator.account.auth import pat_role_restriction
from spcs_emulator.account.objects import User
from spcs_emulator.sql import ast

if TYPE_CHECKING:
    from spcs_emulator.spcs.control import ControlPlane


def _identity(cp: ControlPlane, token: str) -> tuple[str, set[str]] | None:
    """(user, roles) for a session token or a programmatic access token."""
    access = cp.account.access
    session = cp.token_resolver(token)
    if session is not None:
        roles = access.closure([session.role])
        if getattr(session, "secondary_all", False):
            roles |= access.closure(access.roles_of_user(session.user))
        return session.user, roles
    for user in cp.account.catalog.all(ast.USER):
        if isinstance(user, User) and user.tokens:
            valid, role = pat_role_restriction(user, token)
            if valid:
                granted = access.roles_of_user(user.name)
                return user.name, access.closure([role] if role else granted)
    return None


def authorize_endpoint(
    cp: ControlPlane, service_fqn: tuple[str, ...], endpoint: str, token: str | None
) -> tuple[bool, str | None, str]:
    if not token:
        return False, None, "no credentials"
    if not any(i.subtype == ast.SECURITY_INTEGRATION for i in cp.account.catalog.all(ast.INTEGRATION)):
        return False, None, "the account has no SNOWSERVICES_INGRESS security integration"
    identity = _identity(cp, token)
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
