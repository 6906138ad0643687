"""Secrets (values kept apart from what SHOW and DESCRIBE render)."""

from __future__ import annotations

from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, owner_of, text
from spcs_emulator.results import table
from spcs_emulator.sql import ast

SECRET_TYPES = {"PASSWORD", "GENERIC_STRING"}


def _secret_check(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    secret_type = str(props.get("TYPE", "")).upper()
    if secret_type not in SECRET_TYPES:
        raise errors.not_emulated(f"secrets of TYPE = {secret_type or '?'}")
    if secret_type == "PASSWORD" and not {"USERNAME", "PASSWORD"} <= set(props):
        raise errors.compilation("missing option(s) [USERNAME, PASSWORD]", errno=2043, sqlstate="22023")
    if secret_type == "GENERIC_STRING" and "SECRET_STRING" not in props:
        raise errors.compilation("missing option(s) [SECRET_STRING]", errno=2043, sqlstate="22023")


def _secret_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    secret_type = str(props.get("TYPE", "")).upper()
    # Values are kept apart from displayable properties; the runtime reads them for secrets: in specs.
    obj.properties = {"TYPE": secret_type, "USERNAME": props.get("USERNAME")}
    obj.properties["_VALUES"] = {
        "username": props.get("USERNAME"),
        "password": props.get("PASSWORD"),
        "secret_string": props.get("SECRET_STRING"),
    }


def _secret_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    return (
        obj.created_on,
        obj.name,
        obj.fqn[1],
        obj.fqn[0],
        owner_of(ctx, obj),
        text(obj.comment),
        obj.properties["TYPE"],
        None,
        "ROLE",
    )


SECRET_KIND = ObjectKind(
    kind=ast.SECRET,
    word="Secret",
    namespace="schema",
    create_privilege="CREATE SECRET",
    privileges=("USAGE", "READ"),
    properties=frozenset({"TYPE", "USERNAME", "PASSWORD", "SECRET_STRING", "COMMENT"}),
    plural="SECRETS",
    columns=columns(
        "created_on:ts name schema_name database_name owner comment secret_type oauth_scopes owner_role_type"
    ),
    row=_secret_row,
    check_create=_secret_check,
    on_create=_secret_create,
    describe=lambda ctx, obj: table(
        columns(
            "created_on:ts name schema_name database_name owner comment secret_type username "
            "oauth_access_token_expiry_time oauth_refresh_token_expiry_time oauth_scopes integration_name"
        ),
        [
            (
                obj.created_on,
                obj.name,
                obj.fqn[1],
                obj.fqn[0],
                owner_of(ctx, obj),
                text(obj.comment),
                obj.properties["TYPE"],
                obj.properties.get("USERNAME"),
                None,
                None,
                None,
                None,
            )
        ],
    ),
)
