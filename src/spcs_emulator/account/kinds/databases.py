"""Databases and schemas (a database comes with PUBLIC)."""

from __future__ import annotations

import shutil
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.kinds.stages import stage_directory
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, owner_of, text, yn
from spcs_emulator.results import table
from spcs_emulator.sql import ast

RETENTION_PARAMETERS = ("DATA_RETENTION_TIME_IN_DAYS", "MAX_DATA_EXTENSION_TIME_IN_DAYS")
MAX_RETENTION_DAYS = 90  # permanent objects, Enterprise Edition (docs: sql-reference/parameters)


def _retention_check(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    """Whole days 0..90; anything else is refused as an account refuses it (001008 (22023) "invalid value
    [100] for parameter 'DATA_RETENTION_TIME_IN_DAYS'", seen in public logs of real accounts)."""
    for name in RETENTION_PARAMETERS:
        if name not in props:
            continue
        value = props[name]
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or int(text) > MAX_RETENTION_DAYS:
            raise errors.compilation(
                f"invalid value [{text[:40]}] for parameter '{name}'", errno=1008, sqlstate="22023"
            )


def _database_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    # Every database comes with PUBLIC (and INFORMATION_SCHEMA, not emulated), owned by the creator.
    schema = CatalogObject(ast.SCHEMA, (*obj.fqn, "PUBLIC"), owner=ctx.session.role)
    ctx.state.catalog.add(schema)
    ctx.state.access.set_owner(ast.SCHEMA, schema.fqn, ctx.session.role, ctx.session.role)
    # The database (and PUBLIC) become current in handlers/objects.create, as every created database does.


def _database_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    current = ctx.session.database == obj.name
    return (
        obj.created_on,
        obj.name,
        "N",
        yn(current),
        "",
        owner_of(ctx, obj),
        text(obj.comment),
        "",
        "1",
        "STANDARD",
        None,
        "ROLE",
    )


def _container_drop(ctx: Context, obj: CatalogObject) -> None:
    """What a database or schema holds goes through each object's own drop hook first
    (handlers/objects.py); then its stage folder goes whole, with anything no stage object owns."""
    shutil.rmtree(stage_directory(ctx, obj.fqn), ignore_errors=True)


def _database_drop(ctx: Context, obj: CatalogObject) -> None:
    _container_drop(ctx, obj)
    if ctx.session.database == obj.name:
        ctx.session.database = ctx.session.schema = None


DATABASE_KIND = ObjectKind(
    kind=ast.DATABASE,
    word="Database",
    namespace="account",
    create_privilege="CREATE DATABASE",
    privileges=("USAGE", "MONITOR", "MODIFY", "CREATE SCHEMA", "CREATE DATABASE ROLE"),
    holds="database",
    properties=frozenset({"COMMENT", "DATA_RETENTION_TIME_IN_DAYS", "MAX_DATA_EXTENSION_TIME_IN_DAYS"}),
    plural="DATABASES",
    columns=columns(
        "created_on:ts name is_default is_current origin owner comment options retention_time kind budget "
        "owner_role_type"
    ),
    row=_database_row,
    check_create=_retention_check,
    on_create=_database_create,
    on_drop=_database_drop,
    describe=lambda ctx, obj: table(
        columns("created_on:ts name kind"),
        [(s.created_on, s.name, "SCHEMA") for s in ctx.state.catalog.all(ast.SCHEMA) if s.fqn[0] == obj.name],
    ),
)


def _schema_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    current = (ctx.session.database, ctx.session.schema) == obj.fqn
    return (
        obj.created_on,
        obj.name,
        "N",
        yn(current),
        obj.fqn[0],
        owner_of(ctx, obj),
        text(obj.comment),
        "",
        "1",
        "ROLE",
        None,
    )


SCHEMA_KIND = ObjectKind(
    kind=ast.SCHEMA,
    word="Schema",
    namespace="database",
    create_privilege="CREATE SCHEMA",
    # In the order GRANT ALL has always granted them; a kind registered in a schema that is not listed
    # here adds its CREATE after these (KindTable.privileges).
    privileges=(
        "USAGE",
        "MONITOR",
        "MODIFY",
        "CREATE TABLE",
        "CREATE VIEW",
        "CREATE STAGE",
        "CREATE FUNCTION",
        "CREATE PROCEDURE",
        "CREATE SECRET",
        "CREATE NETWORK RULE",
    ),
    holds="schema",
    properties=frozenset({"COMMENT", "DATA_RETENTION_TIME_IN_DAYS", "WITH MANAGED ACCESS"}),
    plural="SCHEMAS",
    columns=columns(
        "created_on:ts name is_default is_current database_name owner comment options retention_time "
        "owner_role_type budget"
    ),
    row=_schema_row,
    check_create=_retention_check,
    on_drop=_container_drop,
)
