"""What SPCS adds to the account's grants: its account privileges, service roles (``svc!ROLE``, GRANT
SERVICE ROLE), and SHOW GRANTS TO SERVICE ROLE svc!r (the endpoints it covers) and OF SERVICE ROLE svc!r
(who holds it)."""

from __future__ import annotations

from spcs_emulator.account.access import ACCOUNTADMIN, PUBLIC, SYSADMIN, ObjectRole
from spcs_emulator.account.handlers.grants import object_role, object_roles
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.registry import GrantsListing, ObjectRoleNaming, StatementContext
from spcs_emulator.account.show import columns
from spcs_emulator.results import Result, table
from spcs_emulator.sql import ast

# Account privileges SPCS adds besides CREATE COMPUTE POOL (which comes with the compute pool kind).
SPCS_ACCOUNT_PRIVILEGES = ("BIND SERVICE ENDPOINT",)
# SPCS's account privileges of a fresh account. CREATE COMPUTE POOL for SYSADMIN is an assumption the
# guide makes (it creates its pools as SYSADMIN); BIND SERVICE ENDPOINT for PUBLIC is the default
# since bcr-2321 (May 2026). Both are listed in docs/emulator-coverage.md.
SPCS_BOOTSTRAP_GRANTS: tuple[tuple[str, str], ...] = (
    ("CREATE COMPUTE POOL", SYSADMIN),
    ("CREATE COMPUTE POOL", ACCOUNTADMIN),
    ("BIND SERVICE ENDPOINT", PUBLIC),
)


def service_role(service: tuple[str, ...], name: str) -> ObjectRole:
    """The service role ``name`` of the service ``service`` (a role grant's key, as sessions hold it)."""
    return ObjectRole(ast.SERVICE, service, name)


def _service_role_name(named: ast.ServiceRoleName) -> tuple[str, ast.Name, str]:
    return ast.SERVICE, named.service, named.role


SERVICE_ROLE_NAMES: dict[type, ObjectRoleNaming] = {ast.ServiceRoleName: _service_role_name}


def _service_role(
    ctx: StatementContext, stmt: ast.ShowGrants
) -> tuple[CatalogObject, ObjectRole, tuple[str, ...]]:
    """The service, the service role's grantee key, and the endpoints the role covers."""
    service, key = object_role(ctx, stmt.name)  # as GRANT SERVICE ROLE reads it
    return service, key, object_roles(ctx, service)[key.name]


def _grants_to_service_role(ctx: StatementContext, stmt: ast.ShowGrants) -> Result:
    service, key, endpoints = _service_role(ctx, stmt)
    return table(
        columns("created_on:ts privilege granted_on name granted_to grantee_name"),
        [
            (
                service.created_on,
                "USAGE",
                "SERVICE_ENDPOINT",
                f"{service.display}!{e}",
                "SERVICE_ROLE",
                str(key),
            )
            for e in endpoints
        ],
    )


def _grants_of_service_role(ctx: StatementContext, stmt: ast.ShowGrants) -> Result:
    _, key, _ = _service_role(ctx, stmt)
    return table(
        columns("created_on:ts role granted_to grantee_name granted_by"),
        [
            (g.created_on, str(key), g.grantee_kind, g.grantee, g.granted_by)
            for g in ctx.state.access.role_grants
            if g.role == key
        ],
    )


SERVICE_ROLE_GRANTS: dict[str, GrantsListing] = {
    "TO SERVICE ROLE": _grants_to_service_role,
    "OF SERVICE ROLE": _grants_of_service_role,
}
