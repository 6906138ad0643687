"""Compute pools: CREATE/ALTER/DROP/DESCRIBE/SHOW through the kind registry."""

from __future__ import annotations

from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.object_kinds import ObjectKind, remove_object
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, owner_of, tf
from spcs_emulator.results import Result, status, table
from spcs_emulator.spcs.statements.common import control_plane, suspend_or_resume
from spcs_emulator.spcs.statements.services import SERVICE_KIND
from spcs_emulator.spcs.statements.snapshots import back_up_block_volumes
from spcs_emulator.sql import ast

INSTANCE_FAMILIES = frozenset(
    [
        "CPU_X64_XS",
        "CPU_X64_S",
        "CPU_X64_M",
        "CPU_X64_SL",
        "CPU_X64_L",
        "HIGHMEM_X64_S",
        "HIGHMEM_X64_M",
        "HIGHMEM_X64_L",
        "HIGHMEM_X64_SL",
        "GPU_NV_S",
        "GPU_NV_M",
        "GPU_NV_L",
        "GPU_NV_XS",
        "GPU_NV_SM",
        "GPU_NV_2M",
        "GPU_NV_3M",
        "GPU_NV_SL",
        "GEN_X64_G2_2",
        "GEN_X64_G2_4",
        "GEN_X64_G2_8",
        "GEN_X64_G2_16",
        "GEN_X64_G2_32",
        "GEN_ARM_G1_2",
        "GEN_ARM_G1_4",
        "GEN_ARM_G1_8",
        "MEM_X64_G2_8",
        "MEM_X64_G2_32",
    ]
)


def _pool_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    min_nodes, max_nodes = props.get("MIN_NODES"), props.get("MAX_NODES")
    if not isinstance(min_nodes, int) or min_nodes < 1:
        raise errors.invalid("MIN_NODES must be an integer greater than 0")
    if not isinstance(max_nodes, int) or max_nodes < min_nodes:
        raise errors.invalid("MAX_NODES must be an integer greater than or equal to MIN_NODES")
    family = str(props.get("INSTANCE_FAMILY", "")).upper()
    if family not in INSTANCE_FAMILIES:
        raise errors.invalid(f"invalid value '{family}' for property 'INSTANCE_FAMILY'")
    auto_suspend = props.get("AUTO_SUSPEND_SECS", 3600)
    if not isinstance(auto_suspend, int) or auto_suspend < 0:
        raise errors.invalid("AUTO_SUSPEND_SECS must be a non-negative integer")
    obj.properties.update({"INSTANCE_FAMILY": family, "AUTO_SUSPEND_SECS": auto_suspend})
    obj.properties.setdefault("AUTO_RESUME", True)
    control_plane(ctx).pool_created(obj, suspended=props.get("INITIALLY_SUSPENDED") is True)


def _pool_drop(ctx: Context, obj: CatalogObject) -> None:
    services = control_plane(ctx).pool_services(obj.name)
    if services:
        raise errors.pool_has_services(obj.name, len(services))
    control_plane(ctx).pools.pop(obj.fqn, None)


def _pool_alter(ctx: Context, obj: CatalogObject, stmt: ast.Alter) -> Result | None:
    cp = control_plane(ctx)
    if stmt.action == "STOP ALL":
        ctx.require(obj, "OPERATE")
        for service in cp.pool_services(obj.name):
            back_up_block_volumes(ctx, service)  # BCR-2206, as DROP SERVICE ... FORCE
            remove_object(ctx, SERVICE_KIND, service)
        return status()
    return suspend_or_resume(ctx, obj, stmt, cp.suspend_pool, cp.resume_pool)


def _pool_row(ctx: Context, obj: CatalogObject, describe: bool = False) -> tuple[Any, ...]:
    cp, p = control_plane(ctx), obj.properties
    state = cp.pool_state(obj)
    up = state in ("IDLE", "ACTIVE")
    services = len(cp.pool_services(obj.name))
    row: tuple[Any, ...] = (
        obj.name,
        state,
        p["MIN_NODES"],
        p["MAX_NODES"],
        p["INSTANCE_FAMILY"],
        services,
        0,
        p["AUTO_SUSPEND_SECS"],
        tf(p.get("AUTO_RESUME") is not False),
        p["MIN_NODES"] if up and services else 0,
        p["MIN_NODES"] if up and not services else 0,
        0 if state == "SUSPENDED" else p["MIN_NODES"],
        None,  # placement_group: none chosen (CREATE ... PLACEMENT_GROUP is not emulated)
        obj.created_on,
        obj.created_on,
        obj.created_on,
        owner_of(ctx, obj),
        obj.comment,
        False,
        None,
        None,
        None,  # backup_instance_families: none (the Terraform provider's HasNoBackupInstanceFamilies)
    )
    if describe:
        row += (cp.pools[obj.fqn].error_code, cp.pool_status_message(obj))
    return row


# placement_group after target_nodes (bcr-2119, 2025_07; docs: desc-compute-pool);
# backup_instance_families last, before DESCRIBE's error_code and status_message (read by the Terraform
# provider's testint on an account; no source gives its position: tests/conformance show_columns.yaml).
POOL_COLUMNS = columns(
    "name state min_nodes:int max_nodes:int instance_family num_services:int num_jobs:int auto_suspend_secs:int "
    "auto_resume active_nodes:int idle_nodes:int target_nodes:int placement_group created_on:ts resumed_on:ts "
    "updated_on:ts owner comment is_exclusive:bool application budget backup_instance_families"
)

POOL_KIND = ObjectKind(
    kind=ast.COMPUTE_POOL,
    word="Compute pool",
    namespace="account",
    create_privilege="CREATE COMPUTE POOL",
    privileges=("USAGE", "OPERATE", "MONITOR", "MODIFY"),
    properties=frozenset(
        {
            "MIN_NODES",
            "MAX_NODES",
            "INSTANCE_FAMILY",
            "AUTO_RESUME",
            "INITIALLY_SUSPENDED",
            "AUTO_SUSPEND_SECS",
            "COMMENT",
        }
    ),
    required=frozenset({"MIN_NODES", "MAX_NODES", "INSTANCE_FAMILY"}),
    # `snow spcs compute-pool unset` sends UNSET AUTO_SUSPEND_SECS / AUTO_RESUME / COMMENT: back to the
    # CREATE defaults (docs: sql-reference/sql/create-compute-pool).
    defaults={"AUTO_SUSPEND_SECS": 3600, "AUTO_RESUME": True},
    plural="COMPUTE POOLS",
    columns=POOL_COLUMNS,
    row=_pool_row,
    on_create=_pool_create,
    on_drop=_pool_drop,
    on_alter=_pool_alter,
    describe=lambda ctx, obj: table(
        POOL_COLUMNS + columns("error_code status_message"), [_pool_row(ctx, obj, describe=True)]
    ),
)
