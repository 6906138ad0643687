"""CREATE / DROP / ALTER / DESCRIBE / SHOW for every kind declared in kinds.KINDS."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.handlers.kinds import BY_PLURAL, KINDS, KindSpec
from spcs_emulator.account.objects import CatalogObject, User, family
from spcs_emulator.account.show import listing
from spcs_emulator.results import Result, status
from spcs_emulator.sql import ast


def plain(value: Any) -> Any:
    """A property value as Python data: identifiers and names become their text."""
    if isinstance(value, ast.Ident):
        return value.value
    if isinstance(value, ast.Name):
        return str(value)
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


# Properties that are booleans wherever they appear. Snowflake also takes them as strings, read as
# TO_BOOLEAN reads them ('TRUE', 'false', 'yes', 'off', ...): stored as the string, DISABLED = 'TRUE'
# would not disable.
BOOLEAN_PROPERTIES = frozenset(
    {"DISABLED", "MUST_CHANGE_PASSWORD", "ENABLED", "AUTO_RESUME", "INITIALLY_SUSPENDED"}
)
_TRUE_WORDS = frozenset({"TRUE", "T", "YES", "Y", "ON", "1"})
_FALSE_WORDS = frozenset({"FALSE", "F", "NO", "N", "OFF", "0"})


def boolean(name: str, value: Any) -> bool:
    """A boolean property's value; anything else is refused before any change (002043 (22023);
    Snowflake's exact text for this case is unconfirmed)."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().upper()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise errors.invalid(f"invalid value [{str(value)[:40]!r}] for parameter '{name}'")


def check_property_names(spec: KindSpec, names: Iterable[str]) -> None:
    """001008 (22023) for a property the kind does not have (SET and UNSET alike)."""
    unknown = [p for p in names if p not in spec.properties]
    if unknown:
        raise errors.compilation(
            f"invalid property '{unknown[0]}' for '{spec.kind}'", errno=1008, sqlstate="22023"
        )


def check_properties(spec: KindSpec, properties: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    check_property_names(spec, properties)
    if creating:
        missing = sorted(spec.required - set(properties))
        if missing:
            raise errors.compilation(
                f"missing option(s) [{', '.join(missing)}]", errno=2043, sqlstate="22023"
            )
    values = {k: plain(v) for k, v in properties.items()}
    return {k: boolean(k, v) if k in BOOLEAN_PROPERTIES else v for k, v in values.items()}


def spec_for(kind: str) -> KindSpec:
    spec = KINDS.get(kind)
    if spec is None:
        raise errors.not_emulated(f"{kind} objects")
    return spec


def authorise_create(ctx: Context, spec: KindSpec, fqn: tuple[str, ...]) -> None:
    if spec.scope == "account":
        ctx.require_create_in_account(spec.kind, spec.create_privilege)
    elif spec.scope == "database":
        db = ctx.lookup(ast.DATABASE, ast.Name(fqn[:1]))
        if not ctx.account.access.holds(ctx.primary_roles(), ast.DATABASE, db.fqn, spec.create_privilege):
            raise errors.insufficient_privileges("database", db.display)
    else:
        ctx.require_create_in_schema(spec.kind, fqn)


def create(ctx: Context, stmt: ast.Create) -> Result:
    spec = spec_for(stmt.kind)
    fqn = ctx.qualify(stmt.kind, stmt.name)
    existing = ctx.account.catalog.get(stmt.kind, fqn)
    props = check_properties(spec, stmt.properties, creating=True)
    if existing is not None:
        if stmt.if_not_exists:
            return status(f"{fqn[-1]} already exists, statement succeeded.")
        if not stmt.or_replace:
            raise errors.already_exists(spec.word, ".".join(fqn))
        ctx.require_owner(existing)
    authorise_create(ctx, spec, fqn)
    if existing is not None:
        drop_object(ctx, spec, existing)
    obj_type = User if spec.kind == ast.USER else CatalogObject
    obj = obj_type(
        kind=family(spec.kind),
        fqn=fqn,
        owner=ctx.session.role,
        comment=props.pop("COMMENT", None),
        properties=props,
        subtype=spec.kind if spec.kind != family(spec.kind) else None,
    )
    if spec.on_create:
        spec.on_create(ctx, obj, props)
    ctx.account.catalog.add(obj)
    ctx.account.access.set_owner(obj.kind, obj.fqn, ctx.session.role, ctx.session.role)
    return status(f"{spec.created_word or spec.word} {fqn[-1]} successfully created.")


def drop_object(ctx: Context, spec: KindSpec, obj: CatalogObject) -> None:
    if spec.on_drop:
        spec.on_drop(ctx, obj)
    ctx.account.catalog.remove(obj.kind, obj.fqn)
    ctx.account.access.forget_object(obj.kind, obj.fqn)


def drop(ctx: Context, stmt: ast.Drop) -> Result:
    spec = spec_for(stmt.kind)
    obj = ctx.find(stmt.kind, stmt.name) if stmt.if_exists else ctx.lookup(stmt.kind, stmt.name)
    if obj is None:
        return status(f"Drop statement executed successfully ({stmt.name.last} already dropped).")
    ctx.require_owner(obj)
    if spec.check_drop is not None:
        spec.check_drop(ctx, obj, stmt)
    drop_object(ctx, spec, obj)
    return status(f"{obj.name} successfully dropped.")


def alter(ctx: Context, stmt: ast.Alter) -> Result:
    spec = spec_for(stmt.kind)
    obj = ctx.find(stmt.kind, stmt.name) if stmt.if_exists else ctx.lookup(stmt.kind, stmt.name)
    if obj is None:
        return status("Statement executed successfully.")
    if spec.on_alter is not None:
        result = spec.on_alter(ctx, obj, stmt)
        if result is not None:
            return result
    if stmt.action == "SET":
        ctx.require_owner(obj)
        props = check_properties(spec, stmt.properties, creating=False)
        if "COMMENT" in props:
            obj.comment = props.pop("COMMENT")
        obj.properties.update(props)
        return status()
    if stmt.action == "UNSET":
        ctx.require_owner(obj)
        check_property_names(spec, stmt.unset)
        for key in stmt.unset:
            if key == "COMMENT":
                obj.comment = None
            obj.properties.pop(key, None)
        return status()
    raise errors.not_emulated(f"ALTER {stmt.kind} ... {stmt.action}")


def describe(ctx: Context, stmt: ast.Describe) -> Result:
    spec = spec_for(stmt.kind)
    obj = ctx.lookup(stmt.kind, stmt.name)
    if spec.describe is None:
        raise errors.not_emulated(f"DESCRIBE {stmt.kind}")
    return spec.describe(ctx, obj)


def show(ctx: Context, stmt: ast.Show) -> Result:
    spec = BY_PLURAL.get(stmt.what)
    if spec is None:
        raise errors.not_emulated(f"SHOW {stmt.what}")
    return listing(ctx, stmt, spec.kind, spec.columns, lambda obj: spec.row(ctx, obj))


def describe_properties(rows: list[tuple[str, str, Any, Any]]) -> Result:
    from spcs_emulator.account.show import columns
    from spcs_emulator.results import table

    return table(columns("property property_type property_value property_default"), rows)
