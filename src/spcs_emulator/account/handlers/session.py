"""USE, ALTER SESSION, SELECT of context functions, CALL/SELECT dispatch of SYSTEM$ functions, BEGIN."""

from __future__ import annotations

import datetime as dt
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.registry import Function, StatementContext
from spcs_emulator.results import Column, ColumnType, Result, status, table
from spcs_emulator.sql import ast

EMULATED_VERSION = "9.40.0"

# name -> f(ctx, args) -> (value, column type): the account's own; other layers register theirs
# (the SYSTEM$ functions of SPCS).
CONTEXT_FUNCTIONS: dict[str, Function] = {
    "CURRENT_ROLE": lambda ctx, args: (ctx.session.role, "text"),
    "CURRENT_USER": lambda ctx, args: (ctx.session.user, "text"),
    "CURRENT_DATABASE": lambda ctx, args: (ctx.session.database, "text"),
    "CURRENT_SCHEMA": lambda ctx, args: (ctx.session.schema, "text"),
    "CURRENT_WAREHOUSE": lambda ctx, args: (ctx.session.warehouse, "text"),
    "CURRENT_ACCOUNT": lambda ctx, args: (ctx.state.name, "text"),
    "CURRENT_ACCOUNT_NAME": lambda ctx, args: (ctx.state.name, "text"),
    "CURRENT_REGION": lambda ctx, args: ("EMULATED_LOCAL", "text"),
    "CURRENT_VERSION": lambda ctx, args: (EMULATED_VERSION, "text"),
    "CURRENT_SESSION": lambda ctx, args: (str(ctx.session.id), "text"),
    # The clock SHOW's created_on is on: a client ages objects by it, never by its own clock.
    "CURRENT_TIMESTAMP": lambda ctx, args: (dt.datetime.now(dt.UTC), "timestamp_ltz"),
    "CURRENT_SECONDARY_ROLES": lambda ctx, args: (
        '{"roles":"'
        + (
            ",".join(sorted(str(r) for r in ctx.roles() - ctx.primary_roles()))
            if ctx.session.uses_secondary_roles
            else ""
        )
        + '","value":"'
        + ("ALL" if ctx.session.uses_secondary_roles else "")
        + '"}',
        "text",
    ),
    "CURRENT_AVAILABLE_ROLES": lambda ctx, args: (
        "["
        + ",".join(f'"{r}"' for r in sorted(str(r) for r in ctx.state.access.granted_roles(ctx.session.user)))
        + "]",
        "text",
    ),
}


def call_function(ctx: StatementContext, call: ast.FunctionCall) -> tuple[Any, ColumnType]:
    function = ctx.registry.functions.get(call.name)
    if function is None:
        raise errors.unknown_function(call.name)
    return function(ctx, call.args)


def use(ctx: Context, stmt: ast.Use) -> Result:
    session = ctx.session
    if stmt.kind == "SECONDARY ROLES":
        session.secondary_all = stmt.secondary == "ALL"
        return status()
    assert stmt.name is not None
    if stmt.kind == ast.ROLE:
        role = stmt.name.last
        available = ctx.state.access.granted_roles(session.user)
        if session.role_restriction is not None:  # a role-restricted token's session keeps its role
            available = {session.role_restriction}
        if ctx.state.catalog.get(ast.ROLE, (role,)) is None:
            raise errors.does_not_exist("Role", role)
        if role not in available:  # it exists, but not for this user (real logs: 003013)
            raise errors.role_not_assigned(role)
        session.role = role
    elif stmt.kind == ast.WAREHOUSE:
        session.warehouse = ctx.lookup(ast.WAREHOUSE, stmt.name).name
    elif stmt.kind == ast.DATABASE:
        db = ctx.lookup(ast.DATABASE, stmt.name)
        session.database, session.schema = db.name, "PUBLIC"
    elif stmt.kind == ast.SCHEMA:
        schema = ctx.lookup(ast.SCHEMA, stmt.name)
        session.database, session.schema = schema.fqn
    else:
        raise errors.not_emulated(f"USE {stmt.kind}")
    return status()


def alter_session(ctx: Context, stmt: ast.AlterSession) -> Result:
    for key, value in stmt.properties.items():
        ctx.session.parameters[key] = value.value if isinstance(value, ast.Ident) else value
    for key in stmt.unset:
        ctx.session.parameters.pop(key, None)
    return status()


def select(ctx: StatementContext, stmt: ast.Select) -> Result:
    values, cols = [], []
    for item, alias, source in zip(stmt.items, stmt.aliases, stmt.sources, strict=True):
        kind: ColumnType
        if isinstance(item, ast.FunctionCall):
            value, kind = call_function(ctx, item)
        else:
            value = item
            kind = (
                "fixed"
                if isinstance(item, int) and not isinstance(item, bool)
                else "boolean"
                if isinstance(item, bool)
                else "text"
            )
        values.append(value)
        cols.append(Column(alias or source.upper(), kind))
    return table(cols, [values], select=True)


def call(ctx: StatementContext, stmt: ast.Call) -> Result:
    value, kind = call_function(ctx, stmt.call)
    return table([Column(stmt.call.name, kind)], [[value]])


def begin(ctx: Context, stmt: ast.Begin) -> Result:
    return status()
