"""Warehouses."""

from __future__ import annotations

from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, owner_of, text, tf, yn
from spcs_emulator.results import Result, table
from spcs_emulator.sql import ast

WAREHOUSE_SIZES = {
    "XSMALL": "X-Small",
    "X-SMALL": "X-Small",
    "SMALL": "Small",
    "MEDIUM": "Medium",
    "LARGE": "Large",
}


# Documented values (docs: sql-reference/sql/create-warehouse); sizes are the ones emulated.
WAREHOUSE_CHOICES = {
    "WAREHOUSE_SIZE": frozenset(WAREHOUSE_SIZES),
    "WAREHOUSE_TYPE": frozenset({"STANDARD", "SNOWPARK-OPTIMIZED"}),
    "SCALING_POLICY": frozenset({"STANDARD", "ECONOMY"}),
}


def _warehouse_check(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    for name, choices in WAREHOUSE_CHOICES.items():
        if name in props and str(props[name]).upper() not in choices:
            raise errors.invalid(f"invalid value '{str(props[name])[:40]}' for property '{name}'")


def _warehouse_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    obj.properties["WAREHOUSE_SIZE"] = str(props.get("WAREHOUSE_SIZE", "X-SMALL")).upper()
    obj.properties["STATE"] = "SUSPENDED" if props.get("INITIALLY_SUSPENDED") is True else "STARTED"


def _warehouse_alter(ctx: Context, obj: CatalogObject, stmt: ast.Alter) -> Result | None:
    if stmt.action in ("SUSPEND", "RESUME"):
        ctx.require(obj, "OPERATE")
        obj.properties["STATE"] = "SUSPENDED" if stmt.action == "SUSPEND" else "STARTED"
        return table(columns("status"), [("Statement executed successfully.",)])
    return None


def _is_users_default(ctx: Context, obj: CatalogObject) -> bool:
    """is_default: the session user's DEFAULT_WAREHOUSE (is_current is the session's warehouse)."""
    user = ctx.state.catalog.get(ast.USER, (ctx.session.user,))
    default = user.properties.get("DEFAULT_WAREHOUSE") if user is not None else None
    return default is not None and obj.name in (str(default), str(default).upper())


def _warehouse_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    p = obj.properties
    return (
        obj.name,
        p.get("STATE", "STARTED"),
        "STANDARD",
        WAREHOUSE_SIZES[p.get("WAREHOUSE_SIZE", "X-SMALL")],
        1,
        1,
        1 if p.get("STATE") == "STARTED" else 0,
        0,
        0,
        yn(_is_users_default(ctx, obj)),
        yn(ctx.session.warehouse == obj.name),
        p.get("AUTO_SUSPEND", 600),
        tf(p.get("AUTO_RESUME", True) is not False),
        obj.created_on,
        obj.created_on,
        obj.created_on,
        owner_of(ctx, obj),
        text(obj.comment),
        "ROLE",
    )


WAREHOUSE_KIND = ObjectKind(
    kind=ast.WAREHOUSE,
    word="Warehouse",
    namespace="account",
    create_privilege="CREATE WAREHOUSE",
    privileges=("USAGE", "OPERATE", "MONITOR", "MODIFY", "APPLYBUDGET"),
    properties=frozenset(
        {
            "WAREHOUSE_SIZE",
            "WAREHOUSE_TYPE",
            "AUTO_SUSPEND",
            "AUTO_RESUME",
            "INITIALLY_SUSPENDED",
            "MIN_CLUSTER_COUNT",
            "MAX_CLUSTER_COUNT",
            "SCALING_POLICY",
            "COMMENT",
            "STATEMENT_TIMEOUT_IN_SECONDS",
        }
    ),
    plural="WAREHOUSES",
    columns=columns(
        "name state type size min_cluster_count:int max_cluster_count:int started_clusters:int running:int "
        "queued:int is_default is_current auto_suspend:int auto_resume created_on:ts resumed_on:ts "
        "updated_on:ts owner comment owner_role_type"
    ),
    row=_warehouse_row,
    check_create=_warehouse_check,
    on_create=_warehouse_create,
    on_alter=_warehouse_alter,
)
