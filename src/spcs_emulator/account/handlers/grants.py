"""GRANT / REVOKE of privileges and roles, and SHOW GRANTS in its variants (reference §1.1-1.4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.access import OWNERSHIP, ObjectRole, RoleId
from spcs_emulator.account.catalog import privilege_noun
from spcs_emulator.account.objects import CatalogObject, family
from spcs_emulator.account.registry import GrantsListing, StatementContext
from spcs_emulator.account.show import columns
from spcs_emulator.results import Result, status, table
from spcs_emulator.sql import ast

GRANTS_TO_COLUMNS = columns(
    "created_on:ts privilege granted_on name granted_to grantee_name grant_option granted_by"
)


def granted_on(kind: str) -> str:
    return family(kind).replace(" ", "_")


def _target(
    ctx: StatementContext, kind: str, name: ast.Name | None
) -> tuple[str, tuple[str, ...], CatalogObject | None]:
    if kind == ast.ACCOUNT:
        return ast.ACCOUNT, (), None
    if name is None:
        raise errors.not_emulated(f"GRANT ... ON {kind} without a name")
    obj = ctx.lookup(kind, name, bypass_visibility=ctx.manages_grants())
    return obj.kind, obj.fqn, obj


def _expand(ctx: StatementContext, privileges: tuple[str, ...], kind: str) -> tuple[str, ...]:
    allowed = ctx.state.kinds.privileges(kind)
    if privileges == ("ALL",):
        if kind == ast.ACCOUNT:
            raise errors.not_emulated("GRANT ALL ON ACCOUNT")
        return allowed
    for privilege in privileges:
        if privilege != OWNERSHIP and privilege not in allowed:
            raise errors.invalid_privilege(privilege, family(kind).lower())
    return privileges


def _may_grant(ctx: StatementContext, kind: str, fqn: tuple[str, ...], privilege: str) -> bool:
    if ctx.manages_grants():
        return True
    access, roles = ctx.state.access, ctx.roles()
    if kind != ast.ACCOUNT and OWNERSHIP in access.privileges_of(roles, kind, fqn):
        return True
    return any(
        g.grant_option and g.privilege == privilege and g.kind == kind and g.fqn == fqn and g.grantee in roles
        for g in access.grants
    )


def _role(ctx: StatementContext, name: ast.Name) -> CatalogObject:
    role = ctx.state.catalog.get(ast.ROLE, (name.last,))
    if role is None:
        raise errors.does_not_exist("Role", name.last)
    return role


def grant(ctx: StatementContext, stmt: ast.Grant) -> Result:
    if stmt.grantee_kind != ast.ROLE:
        raise errors.not_emulated(f"GRANT ... TO {stmt.grantee_kind}")
    kind, fqn, obj = _target(ctx, stmt.on_kind, stmt.on_name)
    role = _role(ctx, stmt.grantee)
    access = ctx.state.access
    for privilege in _expand(ctx, stmt.privileges, kind):
        if not _may_grant(ctx, kind, fqn, privilege):
            noun = "account" if obj is None else family(kind).lower()
            raise errors.insufficient_privileges(noun, ctx.state.name if obj is None else obj.display)
        if stmt.revoke:
            if privilege == OWNERSHIP:
                raise errors.compilation(
                    "Cannot revoke ownership; grant it to another role instead.", errno=3012, sqlstate="42601"
                )
            access.revoke(privilege, kind, fqn, role.name)
        elif privilege == OWNERSHIP:
            access.set_owner(kind, fqn, role.name, ctx.session.role)
            if obj is not None:
                obj.owner = role.name
        else:
            access.grant(privilege, kind, fqn, role.name, ctx.session.role, stmt.with_grant_option)
    return status()


def grant_role(ctx: StatementContext, stmt: ast.GrantRole) -> Result:
    access = ctx.state.access
    role_key: RoleId
    if isinstance(stmt.role, ast.Name):
        role_obj = _role(ctx, stmt.role)
        if not (ctx.manages_grants() or access.holds(ctx.roles(), ast.ROLE, role_obj.fqn, OWNERSHIP)):
            raise errors.insufficient_privileges("role", role_obj.name)
        role_key = role_obj.name
    else:  # a role an object defines, granted by whoever owns the object
        obj, role_key = object_role(ctx, stmt.role, bypass_visibility=ctx.manages_grants())
        if not (ctx.manages_grants() or access.holds(ctx.roles(), obj.kind, obj.fqn, OWNERSHIP)):
            raise errors.insufficient_privileges(privilege_noun(obj.kind), obj.display)
    if stmt.grantee_kind == ast.ROLE:
        grantee = _role(ctx, stmt.grantee).name
        if not stmt.revoke and access.would_cycle(role_key, grantee):
            raise errors.role_grant_cycle(str(role_key), grantee)
    else:
        user = ctx.state.catalog.get(ast.USER, (stmt.grantee.last,))
        if user is None:
            raise errors.does_not_exist("User", stmt.grantee.last)
        grantee = user.name
    if stmt.revoke:
        access.revoke_role(role_key, stmt.grantee_kind, grantee)
    else:
        access.grant_role(role_key, stmt.grantee_kind, grantee, ctx.session.role)
    return status()


def _object_name(ctx: StatementContext, kind: str, fqn: tuple[str, ...]) -> str:
    return ctx.state.name if kind == ast.ACCOUNT else ".".join(fqn)


def _may_inspect_role(ctx: StatementContext, role: str) -> bool:
    return (
        role in ctx.roles()
        or ctx.manages_grants()
        or ctx.state.access.holds(ctx.roles(), ast.ROLE, (role,), OWNERSHIP)
    )


def object_roles(ctx: StatementContext, obj: CatalogObject) -> Mapping[str, tuple[str, ...]]:
    """The roles ``obj`` defines, each with what it covers, as its kind declares them."""
    kind = ctx.registry.kind_of(obj)
    return {} if kind is None or kind.roles is None else kind.roles(ctx, obj)


def object_role(
    ctx: StatementContext, named: object, *, bypass_visibility: bool = False
) -> tuple[CatalogObject, ObjectRole]:
    """The object and its role that ``named`` (``x!ROLE``, as a registered naming reads it) names;
    002003 "<Kind> role 'X!ROLE' does not exist" when the object defines no such role."""
    naming = ctx.registry.object_role_names.get(type(named))
    if naming is None:
        raise errors.not_emulated(f"roles named like {named}")
    kind, name, role = naming(named)
    obj = ctx.lookup(kind, name, bypass_visibility=bypass_visibility)
    if role not in object_roles(ctx, obj):
        raise errors.does_not_exist(f"{ctx.state.kinds.word(kind)} role", f"{obj.display}!{role}")
    return obj, ObjectRole(obj.kind, obj.fqn, role)


def _grants_to_role(ctx: StatementContext, stmt: ast.ShowGrants) -> Result:
    access = ctx.state.access
    role = _role(ctx, _named(stmt)).name
    if not _may_inspect_role(ctx, role):
        raise errors.insufficient_privileges("role", role)
    rows: list[tuple[Any, ...]] = [
        (
            g.created_on,
            g.privilege,
            granted_on(g.kind),
            _object_name(ctx, g.kind, g.fqn),
            "ROLE",
            role,
            str(g.grant_option).lower(),
            g.granted_by,
        )
        for g in access.grants
        if g.grantee == role
    ]
    rows += [
        (
            g.created_on,
            "USAGE",
            f"{granted_on(g.role.kind)}_ROLE" if isinstance(g.role, ObjectRole) else "ROLE",
            str(g.role),
            "ROLE",
            role,
            "false",
            g.granted_by,
        )
        for g in access.role_grants
        if g.grantee_kind == ast.ROLE and g.grantee == role
    ]
    return table(GRANTS_TO_COLUMNS, rows)


def _grants_of_role(ctx: StatementContext, stmt: ast.ShowGrants) -> Result:
    role = _role(ctx, _named(stmt)).name
    if not _may_inspect_role(ctx, role):
        raise errors.insufficient_privileges("role", role)
    return table(
        columns("created_on:ts role granted_to grantee_name granted_by"),
        [
            (g.created_on, role, g.grantee_kind, g.grantee, g.granted_by)
            for g in ctx.state.access.role_grants
            if g.role == role
        ],
    )


def _grants_to_user(ctx: StatementContext, stmt: ast.ShowGrants) -> Result:
    name = _named(stmt).last
    if ctx.state.catalog.get(ast.USER, (name,)) is None:
        raise errors.does_not_exist("User", name)
    if name != ctx.session.user and not ctx.manages_grants():
        raise errors.insufficient_privileges("user", name)
    return table(
        columns(
            "created_on:ts privilege granted_on name role granted_to grantee_name grant_option granted_by"
        ),
        [
            (g.created_on, "USAGE", "ROLE", g.role, g.role, "USER", name, "false", g.granted_by)
            for g in ctx.state.access.role_grants
            if g.grantee_kind == ast.USER and g.grantee == name
        ],
    )


def _grants_on(ctx: StatementContext, stmt: ast.ShowGrants) -> Result:
    kind, fqn, obj = _target(
        ctx, stmt.kind or ast.ACCOUNT, stmt.name if isinstance(stmt.name, ast.Name) else None
    )
    if obj is not None and not (ctx.visible(obj) or ctx.manages_grants()):
        raise errors.does_not_exist(kind.capitalize(), obj.display)
    return table(
        columns(
            "created_on:ts privilege granted_on name granted_to grantee_name grant_option granted_by granted_by_role_type"
        ),
        [
            (
                g.created_on,
                g.privilege,
                granted_on(g.kind),
                _object_name(ctx, g.kind, g.fqn),
                "ROLE",  # privileges are granted to account roles only
                g.grantee,
                str(g.grant_option).lower(),
                g.granted_by,
                "ROLE",
            )
            for g in ctx.state.access.grants
            if g.kind == kind and g.fqn == fqn
        ],
    )


def _named(stmt: ast.ShowGrants) -> ast.Name:
    if not isinstance(stmt.name, ast.Name):  # the grammar gives these modes a plain name
        raise errors.not_emulated(f"SHOW GRANTS {stmt.mode} without a role or user name")
    return stmt.name


# SHOW GRANTS <mode>: the account's own modes (other layers add theirs: engine.Account.add_grants_listings).
SHOW_GRANTS: dict[str, GrantsListing] = {
    "TO ROLE": _grants_to_role,
    "OF ROLE": _grants_of_role,
    "TO USER": _grants_to_user,
    "ON": _grants_on,
}


def show_grants(ctx: StatementContext, stmt: ast.ShowGrants) -> Result:
    listing = ctx.registry.grants_listings.get(stmt.mode)
    if listing is None:
        raise errors.not_emulated(f"SHOW GRANTS {stmt.mode}".strip())
    return listing(ctx, stmt)
