"""Shared SHOW machinery: LIKE patterns, IN scopes, visibility, and column declarations."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from spcs_emulator.account.context import Context
from spcs_emulator.account.objects import CatalogObject, family
from spcs_emulator.results import Column, ColumnType, Result, table
from spcs_emulator.sql import ast

TS: ColumnType = "timestamp_ltz"


def columns(spec: str) -> tuple[Column, ...]:
    """'created_on:ts name is_public:bool port:int' -> Column tuple (text unless typed)."""
    types: dict[str, ColumnType] = {"ts": TS, "bool": "boolean", "int": "fixed", "variant": "variant"}
    out = []
    for word in spec.split():
        name, _, kind = word.partition(":")
        out.append(Column(name, types[kind] if kind else "text"))
    return tuple(out)


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE (``%``, ``_``, backslash escapes), case-insensitive as SHOW ... LIKE is."""
    out, escaped = [], False
    for ch in pattern:
        if escaped:
            out.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.IGNORECASE | re.DOTALL)


def in_scope(ctx: Context, obj: CatalogObject, scope: ast.Scope | None) -> bool:
    """IN ACCOUNT / DATABASE [d] / SCHEMA [s]; with no IN, the current database if any, else the account."""
    if ctx.state.kinds.namespace(obj.kind) not in ("database", "schema"):
        return True
    session = ctx.session
    if scope is None:
        return session.database is None or obj.fqn[0] == session.database
    if scope.kind == ast.ACCOUNT:
        return True
    if scope.kind == ast.DATABASE:
        db = scope.name.last if scope.name else session.database
        return obj.fqn[0] == db
    if scope.kind == ast.SCHEMA:
        target: tuple[str | None, ...]
        if scope.name is None:
            target = (session.database, session.schema)
        else:
            target = ctx.qualify(ast.SCHEMA, scope.name)
        return obj.fqn[:2] == tuple(target)
    return True


SYSTEM_DATABASE = "SNOWFLAKE"


def named_container(ctx: Context, scope: ast.Scope | None) -> None:
    """``IN DATABASE d`` / ``IN SCHEMA s`` of a database or schema that is missing or invisible: 002003
    ``Database 'D' does not exist or not authorized.``, as Snowflake answers, never an empty listing
    (tests/conformance/observations/refusals.yaml)."""
    if scope is None or scope.name is None or scope.kind not in (ast.DATABASE, ast.SCHEMA):
        return
    # The shared SNOWFLAKE database is in every account; the emulator keeps nothing in it, so listings
    # there are empty (`snow spcs image-registry url` asks SNOWFLAKE.IMAGES, then IN ACCOUNT).
    if ctx.qualify(scope.kind, scope.name)[0] == SYSTEM_DATABASE:
        return
    ctx.lookup(scope.kind, scope.name)


def listing(
    ctx: Context,
    show: ast.Show,
    kind: str,
    cols: tuple[Column, ...],
    row: Callable[[CatalogObject], Sequence[Any]],
    *,
    objects: Iterable[CatalogObject] | None = None,
) -> Result:
    pattern = like_regex(show.like) if show.like is not None else None
    named_container(ctx, show.scope)
    rows = []
    candidates = objects if objects is not None else ctx.state.catalog.all(kind)
    for obj in candidates:
        if kind != family(kind) and obj.subtype != kind:  # e.g. SHOW SECURITY INTEGRATIONS
            continue
        if pattern and not pattern.match(obj.name):
            continue
        if show.starts_with and not obj.name.startswith(show.starts_with):
            continue
        if not in_scope(ctx, obj, show.scope) or not ctx.visible(obj):
            continue
        rows.append(row(obj))
    if show.limit is not None:
        rows = rows[: show.limit]
    return table(cols, rows)


def owner_of(ctx: Context, obj: CatalogObject) -> str:
    return ctx.state.access.owner(family(obj.kind), obj.fqn) or ""


def yn(flag: bool) -> str:
    return "Y" if flag else "N"


def tf(flag: bool) -> str:
    return "true" if flag else "false"


def text(value: Any) -> str:
    """Text columns Snowflake renders as '' rather than NULL (comments, urls)."""
    return "" if value is None else str(value)


def describe_properties(rows: list[tuple[str, str, Any, Any]]) -> Result:
    """DESCRIBE's property listing (users, integrations): one row per property."""
    return table(columns("property property_type property_value property_default"), rows)
