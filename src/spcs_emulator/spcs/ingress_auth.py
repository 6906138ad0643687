"""Who may use a public endpoint: the service's owner role, or a role granted a service role that
covers the endpoint (ALL_ENDPOINTS_USAGE covers all), as since the 2024_04 bundle (reference §4.5).

Every request is decided on the account's state now: a session whose user was dropped or disabled, or
whose current role is no longer granted, and a PAT of a disabled user or of a revoked role, get nothing.
An endpoint token (``POST /oauth/token``) counts only on the endpoint its scope named, until it expires.
The control plane calls this with the account lock held and hands over what it knows of the service
(:class:`ServiceAccess`) and how to find a session by its token: this module knows no control plane.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from spcs_emulator.account.access import RoleId
from spcs_emulator.account.state import AccountState
from spcs_emulator.spcs.endpoint_tokens import EndpointGrant
from spcs_emulator.spcs.identity import Refused, SessionResolver, grant_identity, identity
from spcs_emulator.spcs.statements.grants import service_role
from spcs_emulator.sql import ast


@dataclass(frozen=True)
class ServiceAccess:
    """What decides access to a service's endpoints: its owner role and its service roles."""

    fqn: tuple[str, ...]
    owner: str | None
    service_roles: Mapping[str, tuple[str, ...]]  # service role -> the endpoints it covers


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
        who = _identity_here(account, sessions, service, endpoint, token)
    except Refused as refused:
        return False, None, str(refused)
    if who is None:
        return False, None, "the token is invalid or expired"
    user, roles = who
    if service is None:
        return False, user, "the service no longer exists"
    if service.owner in roles:
        return True, user, "owner"
    for role, endpoints in service.service_roles.items():
        if endpoint in endpoints and service_role(service.fqn, role) in roles:
            return True, user, f"service role {role}"
    return False, user, f"user {user} has no role with access to endpoint {endpoint}"


def _identity_here(
    account: AccountState, sessions: SessionResolver, service: ServiceAccess | None, endpoint: str, token: str
) -> tuple[str, set[RoleId]] | None:
    """As ``identity``, but an endpoint token of this very endpoint is taken (and one of another refused)."""
    grant = sessions(token)
    if not isinstance(grant, EndpointGrant):
        return identity(account, sessions, token)
    if service is not None and (grant.service, grant.endpoint) != (service.fqn, endpoint):
        raise Refused(f"the token was issued for another endpoint ({grant.host})")
    return grant_identity(account, grant)
