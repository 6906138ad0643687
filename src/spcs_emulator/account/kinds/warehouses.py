"""Warehouses."""

from __future__ import annotations

from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, owner_of, text, tf
from spcs_emulator.results import Result, table
from spcs_emulator.sql import ast

WAREHOUSE_SIZES = {
    "XSMALL": "X-Small",
    "X-SMALL": "X-Small",
    "SMALL": "Small",
    "MEDIUM": "Medium",
    "LARGE": "Large",
}


def _warehouse_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    size = str(props.get("WAREHOUSE_SIZE", "X-SMALL")).upper()
    if size not in WAREHOUSE_SIZES:
        raise errors.invalid(f"invalid value '{size}' for property 'WAREHOUSE_SIZE'")
    obj.properties["WAREHOUSE_SIZE"] = size
    obj.properties["STATE"] = "SUSPENDED" if props.get("INITIALLY_SUSPENDED") is True else "STARTED"


def _warehouse_alter(ctx: Context, obj: CatalogObject, stmt: ast.Alter) -> Result | None:
    if stmt.action in ("SUSPEND", "RESUME"):
        ctx.require(obj, "OPERATE")
        obj.properties["STATE"] = "SUSPENDED" if stmt.action == "SUSPEND" else "STARTED"
        return table(columns("status"), [("Statement executed successfully.",)])
    return None


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
        "Y" if ctx.session.warehouse == obj.name else "N",
        "Y" if ctx.session.warehouse == obj.name else "N",
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
    scope="account",
    create_privilege="CREATE WAREHOUSE",
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
    on_create=_warehouse_create,
    on_alter=_warehouse_alter,
)
