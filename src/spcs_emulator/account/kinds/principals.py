"""Roles and users (credentials live in typed fields, never in rendered properties)."""

from __future__ import annotations

from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.access import SYSTEM_ROLES
from spcs_emulator.account.auth import is_disabled
from spcs_emulator.account.context import Context
from spcs_emulator.account.kinds import pats
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject, User
from spcs_emulator.account.properties import check_properties, check_property_names
from spcs_emulator.account.show import columns, owner_of, text, tf, yn
from spcs_emulator.results import Result, table
from spcs_emulator.sql import ast


def _role_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    access = ctx.state.access
    users = sum(1 for g in access.role_grants if g.role == obj.name and g.grantee_kind == ast.USER)
    to_roles = sum(1 for g in access.role_grants if g.role == obj.name and g.grantee_kind == ast.ROLE)
    granted = sum(1 for g in access.role_grants if g.grantee_kind == ast.ROLE and g.grantee == obj.name)
    return (
        obj.created_on,
        obj.name,
        "N",
        yn(ctx.session.role == obj.name),
        yn(obj.name in ctx.roles() and obj.name != ctx.session.role),
        users,
        to_roles,
        granted,
        owner_of(ctx, obj),
        text(obj.comment),
    )


def _role_drop(ctx: Context, obj: CatalogObject) -> None:
    if obj.name in SYSTEM_ROLES:
        raise errors.cannot_drop_system_role(obj.name)
    ctx.state.access.forget_role(obj.name, heir=ctx.session.role)


ROLE_KIND = ObjectKind(
    kind=ast.ROLE,
    word="Role",
    namespace="account",
    create_privilege="CREATE ROLE",
    privileges=(),  # a role has OWNERSHIP only
    properties=frozenset({"COMMENT"}),
    plural="ROLES",
    columns=columns(
        "created_on:ts name is_default is_current is_inherited assigned_to_users:int granted_to_roles:int "
        "granted_roles:int owner comment"
    ),
    row=_role_row,
    on_drop=_role_drop,
)

USER_PROPERTIES = frozenset(
    {
        "PASSWORD",
        "LOGIN_NAME",
        "DISPLAY_NAME",
        "FIRST_NAME",
        "LAST_NAME",
        "EMAIL",
        "MUST_CHANGE_PASSWORD",
        "DISABLED",
        "DAYS_TO_EXPIRY",
        "DEFAULT_WAREHOUSE",
        "DEFAULT_NAMESPACE",
        "DEFAULT_ROLE",
        "DEFAULT_SECONDARY_ROLES",
        "RSA_PUBLIC_KEY",
        "RSA_PUBLIC_KEY_2",
        "TYPE",
        "COMMENT",
    }
)


# What a user may set and unset on its own user without any privilege on it. Snowflake documents that
# users change "their default role, virtual warehouse, or namespace (via ALTER USER)" themselves (DOC
# ddl-user-security), and that a user manages its own programmatic credentials: PATs need a privilege
# only "for a different user" (DOC programmatic-access-tokens), key pairs are registered "for the user
# who is currently logged in" when no user is named (DOC alter-user-add-key-pair). The legacy key
# properties follow the same rule; another user's keys need OWNERSHIP of that user (DOC key-pair-auth).
SELF_SETTABLE_USER_PROPERTIES = frozenset(
    {"RSA_PUBLIC_KEY", "RSA_PUBLIC_KEY_2", "DEFAULT_ROLE", "DEFAULT_WAREHOUSE", "DEFAULT_NAMESPACE"}
)


def _require_alter(ctx: Context, user: User, names: set[str]) -> None:
    """Ownership of the user, unless the session's own user changes only what a user may change itself."""
    if user.name == ctx.session.user and names <= SELF_SETTABLE_USER_PROPERTIES:
        return
    ctx.require_owner(user)


def _apply_user_properties(user: User, props: dict[str, Any]) -> None:
    # Credentials live in typed fields, never in `properties` (which SHOW and DESCRIBE render).
    if "PASSWORD" in props:
        user.password = props.pop("PASSWORD")
    if "RSA_PUBLIC_KEY" in props:
        user.rsa_public_key = props.pop("RSA_PUBLIC_KEY")
    if "RSA_PUBLIC_KEY_2" in props:
        user.rsa_public_key_2 = props.pop("RSA_PUBLIC_KEY_2")
    if "DEFAULT_ROLE" in props:
        user.default_role = str(props.pop("DEFAULT_ROLE")).upper()
    if "DEFAULT_SECONDARY_ROLES" in props:
        value = props.pop("DEFAULT_SECONDARY_ROLES")
        roles = value if isinstance(value, tuple) else (value,)
        user.default_secondary_roles = tuple(str(r).upper() for r in roles)
    user.properties.update(props)


def _unset_user_property(user: User, key: str) -> None:
    """Back to the default: no credential (later logins with it are refused; open sessions go on), no
    default role, secondary roles ('ALL') (Snowflake's default since bundle 2024_08 [DOC bcr-1692])."""
    if key == "PASSWORD":
        user.password = None
    elif key == "RSA_PUBLIC_KEY":
        user.rsa_public_key = None
    elif key == "RSA_PUBLIC_KEY_2":
        user.rsa_public_key_2 = None
    elif key == "DEFAULT_ROLE":
        user.default_role = None
    elif key == "DEFAULT_SECONDARY_ROLES":
        user.default_secondary_roles = ("ALL",)
    elif key == "COMMENT":
        user.comment = None
    else:
        user.properties.pop(key, None)


def _user_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    assert isinstance(obj, User)
    obj.properties = {}
    obj.default_secondary_roles = ("ALL",)  # Snowflake's default for new users
    _apply_user_properties(obj, dict(props))  # booleans read by check_properties


def _user_alter(ctx: Context, obj: CatalogObject, stmt: ast.Alter) -> Result | None:
    assert isinstance(obj, User)
    if stmt.action in ("ADD PAT", "REMOVE PAT"):
        return pats.alter_tokens(ctx, obj, stmt)
    if stmt.action == "SET":
        _require_alter(ctx, obj, {str(k).upper() for k in stmt.properties})
        props = check_properties(USER_KIND, stmt.properties, creating=False)
        if "COMMENT" in props:
            obj.comment = props.pop("COMMENT")
        _apply_user_properties(obj, props)
        if is_disabled(obj):  # a disabled user's sessions end with it
            ctx.state.end_sessions(lambda session: session.user == obj.name)
        return table(columns("status"), [("Statement executed successfully.",)])
    if stmt.action == "UNSET":
        _require_alter(ctx, obj, {str(k).upper() for k in stmt.unset})
        check_property_names(USER_KIND, stmt.unset)
        for key in stmt.unset:
            _unset_user_property(obj, key)
        return table(columns("status"), [("Statement executed successfully.",)])
    return None


def _user_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    assert isinstance(obj, User)
    p = obj.properties
    secondary = (
        '["ALL"]' if obj.default_secondary_roles == ("ALL",) else str(list(obj.default_secondary_roles))
    )
    return (
        obj.name,
        obj.created_on,
        text(p.get("LOGIN_NAME", obj.name)).upper(),
        text(p.get("DISPLAY_NAME", obj.name)),
        p.get("FIRST_NAME"),
        p.get("LAST_NAME"),
        p.get("EMAIL"),
        None,
        None,
        text(obj.comment),
        tf(p.get("DISABLED") is True),
        tf(p.get("MUST_CHANGE_PASSWORD") is True),
        "false",
        p.get("DEFAULT_WAREHOUSE"),
        p.get("DEFAULT_NAMESPACE"),
        obj.default_role,
        secondary,
        "false",
        None,
        None,
        owner_of(ctx, obj),
        None,
        None,
        None,
        tf(obj.password is not None),
        tf(obj.rsa_public_key is not None),
        p.get("TYPE"),
        "false",
        "false",
    )


def _user_drop(ctx: Context, obj: CatalogObject) -> None:
    ctx.state.access.forget_user(obj.name)
    ctx.state.end_sessions(lambda session: session.user == obj.name)


def _user_describe(ctx: Context, obj: CatalogObject) -> Result:
    """One row per property, in the columns an account answers: property, value, default, description
    (not the property_type/property_value/property_default of other DESCRIBEs; the Terraform provider's
    describeUserPropertyRow). The descriptions are the emulator's own words."""
    row = _user_row(ctx, obj)
    names = [c.name for c in USER_KIND.columns]
    return table(
        columns("property value default description"),
        [
            (n.upper(), "null" if v is None else str(v), "null", n.replace("_", " "))
            for n, v in zip(names, row, strict=True)
        ],
    )


USER_KIND = ObjectKind(
    kind=ast.USER,
    word="User",
    namespace="account",
    create_privilege="CREATE USER",
    privileges=("MONITOR",),
    properties=USER_PROPERTIES,
    plural="USERS",
    columns=columns(
        "name created_on:ts login_name display_name first_name last_name email mins_to_unlock days_to_expiry "
        "comment disabled must_change_password snowflake_lock default_warehouse default_namespace "
        "default_role default_secondary_roles ext_authn_duo ext_authn_uid mins_to_bypass_mfa owner "
        "last_success_login:ts expires_at_time:ts locked_until_time:ts has_password has_rsa_public_key type "
        "has_mfa has_workload_identity"
    ),
    row=_user_row,
    on_create=_user_create,
    on_alter=_user_alter,
    on_drop=_user_drop,
    describe=_user_describe,
)
