"""Internal stages: their files live in the account's state directory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, owner_of, text, yn
from spcs_emulator.paths import fqn_dir
from spcs_emulator.sql import ast


def stage_directory(ctx: Context, fqn: tuple[str, ...]) -> Path:
    """One directory per identifier: a quoted name such as ".." stays a directory of its own."""
    return fqn_dir(ctx.state.state_dir / "stages", fqn)


def _stage_check(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    encryption = props.get("ENCRYPTION", {})
    if encryption and str(encryption.get("TYPE", "")).upper() not in ("SNOWFLAKE_SSE", "SNOWFLAKE_FULL"):
        raise errors.invalid(f"invalid value '{encryption.get('TYPE')}' for property 'TYPE'")


def _stage_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    directory = stage_directory(ctx, obj.fqn)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


def _stage_drop(ctx: Context, obj: CatalogObject) -> None:
    shutil.rmtree(stage_directory(ctx, obj.fqn), ignore_errors=True)


def _stage_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    directory = obj.properties.get("DIRECTORY") or {}
    return (
        obj.created_on,
        obj.name,
        obj.fqn[0],
        obj.fqn[1],
        "",
        "N",
        "N",
        owner_of(ctx, obj),
        text(obj.comment),
        None,
        "INTERNAL",
        None,
        None,
        None,
        None,
        "ROLE",
        yn(bool(directory.get("ENABLE"))),
    )


STAGE_KIND = ObjectKind(
    kind=ast.STAGE,
    word="Stage",
    created_word="Stage area",
    namespace="schema",
    create_privilege="CREATE STAGE",
    privileges=("READ", "WRITE"),
    properties=frozenset({"ENCRYPTION", "DIRECTORY", "COMMENT", "FILE_FORMAT", "COPY_OPTIONS"}),
    plural="STAGES",
    columns=columns(
        "created_on:ts name database_name schema_name url has_credentials has_encryption_key owner comment "
        "region type cloud notification_channel storage_integration endpoint owner_role_type "
        "directory_enabled"
    ),
    row=_stage_row,
    check_create=_stage_check,
    on_create=_stage_create,
    on_drop=_stage_drop,
)
