"""CREATE / DROP / ALTER / DESCRIBE / SHOW for every object kind registered with the account."""

from __future__ import annotations

from spcs_emulator import errors
from spcs_emulator.account.object_kinds import ObjectKind, remove_object
from spcs_emulator.account.objects import CatalogObject, User, family
from spcs_emulator.account.properties import check_properties, check_property_names
from spcs_emulator.account.registry import StatementContext
from spcs_emulator.account.show import listing
from spcs_emulator.results import Result, status
from spcs_emulator.sql import ast


def authorise_create(ctx: StatementContext, kind: ObjectKind, fqn: tuple[str, ...]) -> None:
    if kind.namespace == "account":
        ctx.require_create_in_account(kind.kind, kind.create_privilege)
    elif kind.namespace == "database":
        db = ctx.lookup(ast.DATABASE, ast.Name(fqn[:1]))
        if not ctx.state.access.holds(ctx.primary_roles(), ast.DATABASE, db.fqn, kind.create_privilege):
            raise errors.insufficient_privileges("database", db.display)
    else:
        ctx.require_create_in_schema(kind.kind, fqn)


def create(ctx: StatementContext, stmt: ast.Create) -> Result:
    kind = ctx.registry.kind(stmt.kind)
    fqn = ctx.qualify(stmt.kind, stmt.name)
    existing = ctx.state.catalog.get(stmt.kind, fqn)
    props = check_properties(kind, stmt.properties, creating=True)
    if existing is not None:
        if stmt.if_not_exists:
            # Nothing is created, so nothing becomes current: the docs tie the switch to "creating"
            # the object (see _use_created); that an existing one leaves the session as it was is the
            # emulator's reading, unconfirmed on an account.
            return status(f"{fqn[-1]} already exists, statement succeeded.")
        if not stmt.or_replace:
            raise errors.already_exists(kind.word, ".".join(fqn))
        ctx.require_owner(existing)
    authorise_create(ctx, kind, fqn)
    obj_type = User if kind.kind == ast.USER else CatalogObject
    obj = obj_type(
        kind=family(kind.kind),
        fqn=fqn,
        owner=ctx.session.role,
        comment=props.pop("COMMENT", None),
        properties=props,
        subtype=kind.kind if kind.kind != family(kind.kind) else None,
    )
    # The whole statement is checked (properties, privileges, values, references) before the object it
    # replaces goes: a refused CREATE OR REPLACE leaves the old object as it was.
    if kind.check_create is not None:
        kind.check_create(ctx, obj, props)
    if existing is not None:
        drop_object(ctx, kind, existing)
    if kind.on_create:
        kind.on_create(ctx, obj, props)
    ctx.state.catalog.add(obj)
    ctx.state.access.set_owner(obj.kind, obj.fqn, ctx.session.role, ctx.session.role)
    _use_created(ctx, obj)
    return status(f"{kind.created_word or kind.word} {fqn[-1]} successfully created.")


def _use_created(ctx: StatementContext, obj: CatalogObject) -> None:
    """Creating a database, schema or warehouse makes it current, as USE would ("General usage notes" of
    docs: sql-reference/sql/create-database, create-schema, create-warehouse), OR REPLACE included: an
    unqualified statement after it lands in the new object, on an account as here."""
    session = ctx.session
    if obj.kind == ast.DATABASE:
        session.database, session.schema = obj.name, "PUBLIC"  # USE DATABASE makes PUBLIC current
    elif obj.kind == ast.SCHEMA:
        session.database, session.schema = obj.fqn
    elif obj.kind == ast.WAREHOUSE:
        session.warehouse = obj.name


def drop_object(ctx: StatementContext, kind: ObjectKind, obj: CatalogObject) -> None:
    """The object and, for a database or schema, everything in it, each through its own kind's hook
    (a stage's files go), innermost first."""
    for child in sorted(
        ctx.state.catalog.contents(obj.kind, obj.fqn), key=lambda o: len(o.fqn), reverse=True
    ):
        child_kind = ctx.registry.kind_of(child)
        if child_kind is not None:
            remove_object(ctx, child_kind, child)
    remove_object(ctx, kind, obj)


def _forget_current(ctx: StatementContext, obj: CatalogObject) -> None:
    """A database, schema or warehouse DROP removed is no session's current one any more: CURRENT_SCHEMA()
    and the others answer NULL and an unqualified name has nowhere to land, in every session. (The
    emulator's reading: no source says what an account answers after the object goes.)"""
    for session in ctx.state.sessions.values():
        if obj.kind == ast.DATABASE and session.database == obj.name:
            session.database = session.schema = None
        elif obj.kind == ast.SCHEMA and (session.database, session.schema) == obj.fqn:
            session.schema = None
        elif obj.kind == ast.WAREHOUSE and session.warehouse == obj.name:
            session.warehouse = None


def drop(ctx: StatementContext, stmt: ast.Drop) -> Result:
    kind = ctx.registry.kind(stmt.kind)
    obj = ctx.find(stmt.kind, stmt.name) if stmt.if_exists else ctx.lookup(stmt.kind, stmt.name)
    if obj is None:
        return status(f"Drop statement executed successfully ({stmt.name.last} already dropped).")
    ctx.require_owner(obj)
    if kind.check_drop is not None:
        kind.check_drop(ctx, obj, stmt)
    drop_object(ctx, kind, obj)
    _forget_current(ctx, obj)
    return status(f"{obj.name} successfully dropped.")


def alter(ctx: StatementContext, stmt: ast.Alter) -> Result:
    kind = ctx.registry.kind(stmt.kind)
    obj = ctx.find(stmt.kind, stmt.name) if stmt.if_exists else ctx.lookup(stmt.kind, stmt.name)
    if obj is None:
        return status("Statement executed successfully.")
    if kind.on_alter is not None:
        result = kind.on_alter(ctx, obj, stmt)
        if result is not None:
            return result
    if stmt.action == "SET":
        ctx.require_owner(obj)
        props = check_properties(kind, stmt.properties, creating=False)
        if "COMMENT" in props:
            obj.comment = props.pop("COMMENT")
        obj.properties.update(props)
        return status()
    if stmt.action == "UNSET":
        ctx.require_owner(obj)
        check_property_names(kind, stmt.unset)
        for key in stmt.unset:
            if key in kind.required and key not in kind.unsettable:
                raise errors.invalid(
                    f"Property '{key}' of a {kind.word.lower()} is required: it cannot be unset"
                )
        for key in stmt.unset:
            if key == "COMMENT":
                obj.comment = None
            if key in kind.defaults:
                obj.properties[key] = kind.defaults[key]
            else:
                obj.properties.pop(key, None)
        return status()
    raise errors.not_emulated(f"ALTER {stmt.kind} ... {stmt.action}")


def describe(ctx: StatementContext, stmt: ast.Describe) -> Result:
    kind = ctx.registry.kind(stmt.kind)
    obj = ctx.lookup(stmt.kind, stmt.name)
    if kind.describe is None:
        raise errors.not_emulated(f"DESCRIBE {stmt.kind}")
    return kind.describe(ctx, obj)


def show(ctx: StatementContext, stmt: ast.Show) -> Result:
    """SHOW: a listing registered for what is shown in its scope (``Registry.show_listings``), else the
    kind's own."""
    special = ctx.registry.show_listing(stmt.what, stmt.scope.kind if stmt.scope else None)
    return special(ctx, stmt) if special is not None else show_kind(ctx, stmt)


def show_kind(ctx: StatementContext, stmt: ast.Show) -> Result:
    """SHOW <plural>: the registered kind's listing (its columns and rows, LIKE/IN/LIMIT)."""
    kind = ctx.registry.by_plural(stmt.what)
    if kind is None:
        raise errors.not_emulated(f"SHOW {stmt.what}")
    return listing(ctx, stmt, kind.kind, kind.columns, lambda obj: kind.row(ctx, obj))
