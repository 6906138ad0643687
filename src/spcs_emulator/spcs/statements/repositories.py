"""Image repositories: the kind (their images: spcs/images.py)."""

from __future__ import annotations

import re
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, owner_of
from spcs_emulator.results import Result
from spcs_emulator.sql import ast


def repository_url(ctx: Context, obj: CatalogObject) -> str:
    host = ctx.state.registry_host
    return f"{host}/" + "/".join(p.lower() for p in obj.fqn)


# What an unquoted identifier reads as (upper-cased): the form a repository URL's lower-cased path
# takes back without loss.
_UNQUOTED = re.compile(r"[A-Z_][A-Z0-9_$]*\Z")


def _repo_check(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    """A database, schema or repository name that must be quoted (lower case, a dash, a space) is
    refused before anything is created (the Terraform provider's testint, SNOW-2070746)."""
    if not all(_UNQUOTED.match(part) for part in obj.fqn):
        raise errors.image_repository_name_quoted()


def _repo_alter(ctx: Context, obj: CatalogObject, stmt: ast.Alter) -> Result | None:
    """ALTER IMAGE REPOSITORY ... UNSET is refused on an account, UNSET COMMENT included (000002,
    SNOW-2070753); SET COMMENT = '' clears a comment instead."""
    if stmt.action == "UNSET":
        raise errors.unsupported_feature("UNSET")
    return None


def _repo_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    encryption = props.get("ENCRYPTION", {}) or {}
    obj.properties["_ENCRYPTION"] = str(encryption.get("TYPE", "SNOWFLAKE_FULL")).upper()
    obj.properties.pop("ENCRYPTION", None)
    obj.properties["_IMAGES"] = {}


def _repo_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    return (
        obj.created_on,
        obj.name,
        obj.fqn[0],
        obj.fqn[1],
        repository_url(ctx, obj),
        owner_of(ctx, obj),
        "ROLE",
        obj.comment or "",
        obj.properties.get("_ENCRYPTION", "SNOWFLAKE_FULL"),
        "",
    )


IMAGE_REPOSITORY_KIND = ObjectKind(
    kind=ast.IMAGE_REPOSITORY,
    word="Image repository",
    # CREATE answers "Image Repository X successfully created." (snowflake-cli's integration test on an
    # account; tests/conformance/observations/snow_and_harness_forms.yaml), errors "Image repository".
    created_word="Image Repository",
    namespace="schema",
    create_privilege="CREATE IMAGE REPOSITORY",
    privileges=("READ", "WRITE"),
    properties=frozenset({"ENCRYPTION", "COMMENT"}),
    plural="IMAGE REPOSITORIES",
    columns=columns(
        "created_on:ts name database_name schema_name repository_url owner owner_role_type comment encryption "
        "privatelink_repository_url"
    ),
    row=_repo_row,
    check_create=_repo_check,
    on_create=_repo_create,
    on_alter=_repo_alter,
)
