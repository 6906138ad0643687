"""SHOW GRANTS TO SERVICE ROLE svc!r (the endpoints it covers) and OF SERVICE ROLE svc!r (who holds it)."""

from __future__ import annotations

from collections.abc import Callable

from spcs_emulator import errors
from spcs_emulator.account.access import ServiceRole
from spcs_emulator.account.handlers.grants import object_roles
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.registry import Handler, StatementContext
from spcs_emulator.account.show import columns
from spcs_emulator.protocol.backend import Transfer
from spcs_emulator.results import Result, table
from spcs_emulator.sql import ast


def _service_role(
    ctx: StatementContext, stmt: ast.ShowGrants
) -> tuple[CatalogObject, ServiceRole, tuple[str, ...]]:
    """The service, the service role's grantee key, and the endpoints the role covers."""
    target = stmt.name
    assert isinstance(target, ast.ServiceRoleName)  # the grammar gives these modes a service role name
    service = ctx.lookup(ast.SERVICE, target.service)
    endpoints = object_roles(ctx, service).get(target.role)  # as GRANT SERVICE ROLE reads them
    if endpoints is None:
        raise errors.does_not_exist("Service role", f"{service.display}!{target.role}")
    return service, ServiceRole(service.fqn, target.role), endpoints


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


SERVICE_ROLE_GRANTS: dict[str, Callable[[StatementContext, ast.ShowGrants], Result]] = {
    "TO SERVICE ROLE": _grants_to_service_role,
    "OF SERVICE ROLE": _grants_of_service_role,
}


def spcs_show_grants(
    account_show_grants: Handler,
) -> Callable[[StatementContext, ast.ShowGrants], Result | Transfer]:
    """SHOW GRANTS: the service-role modes above, else what the account answered before SPCS."""

    def show_grants(ctx: StatementContext, stmt: ast.ShowGrants) -> Result | Transfer:
        listing = SERVICE_ROLE_GRANTS.get(stmt.mode)
        return listing(ctx, stmt) if listing else account_show_grants(ctx, stmt)

    return show_grants
