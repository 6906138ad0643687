"""The object kinds of the account (all but compute pools and services, which spcs/ declares)."""

from __future__ import annotations

import shutil
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.handlers.kinds import KindSpec, register
from spcs_emulator.account.handlers.objects import describe_properties
from spcs_emulator.account.objects import CatalogObject, User
from spcs_emulator.account.show import columns, owner_of, tf, yn
from spcs_emulator.results import Result, table
from spcs_emulator.sql import ast


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# -- warehouse ---------------------------------------------------------------------------------------

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
        _text(obj.comment),
        "ROLE",
    )


register(
    KindSpec(
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
)


# -- database and schema -----------------------------------------------------------------------------


def _database_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    # Every database comes with PUBLIC (and INFORMATION_SCHEMA, not emulated), owned by the creator.
    schema = CatalogObject(ast.SCHEMA, (*obj.fqn, "PUBLIC"), owner=ctx.session.role)
    ctx.account.catalog.add(schema)
    ctx.account.access.set_owner(ast.SCHEMA, schema.fqn, ctx.session.role, ctx.session.role)
    if ctx.session.database is None or ctx.session.database == obj.name:
        # As in Snowflake, creating a database makes it (and PUBLIC) current.
        ctx.session.database, ctx.session.schema = obj.name, "PUBLIC"


def _database_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    current = ctx.session.database == obj.name
    return (
        obj.created_on,
        obj.name,
        "N",
        yn(current),
        "",
        owner_of(ctx, obj),
        _text(obj.comment),
        "",
        "1",
        "STANDARD",
        None,
        "ROLE",
    )


def _database_drop(ctx: Context, obj: CatalogObject) -> None:
    services = [s for s in ctx.account.catalog.all(ast.SERVICE) if s.fqn[0] == obj.name]
    for service in services:
        hook = ctx.account.extensions.get("spcs")
        if hook:
            hook.drop_service(ctx, service)
    _remove_stage_dirs(ctx, prefix=obj.fqn)
    if ctx.session.database == obj.name:
        ctx.session.database = ctx.session.schema = None


register(
    KindSpec(
        kind=ast.DATABASE,
        word="Database",
        scope="account",
        create_privilege="CREATE DATABASE",
        properties=frozenset({"COMMENT", "DATA_RETENTION_TIME_IN_DAYS", "MAX_DATA_EXTENSION_TIME_IN_DAYS"}),
        plural="DATABASES",
        columns=columns(
            "created_on:ts name is_default is_current origin owner comment options retention_time kind budget "
            "owner_role_type"
        ),
        row=_database_row,
        on_create=_database_create,
        on_drop=_database_drop,
        describe=lambda ctx, obj: table(
            columns("created_on:ts name kind"),
            [
                (s.created_on, s.name, "SCHEMA")
                for s in ctx.account.catalog.all(ast.SCHEMA)
                if s.fqn[0] == obj.name
            ],
        ),
    )
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
        _text(obj.comment),
        "",
        "1",
        "ROLE",
        None,
    )


def _schema_drop(ctx: Context, obj: CatalogObject) -> None:
    hook = ctx.account.extensions.get("spcs")
    for service in [s for s in ctx.account.catalog.all(ast.SERVICE) if s.fqn[:2] == obj.fqn]:
        if hook:
            hook.drop_service(ctx, service)
    _remove_stage_dirs(ctx, prefix=obj.fqn)


register(
    KindSpec(
        kind=ast.SCHEMA,
        word="Schema",
        scope="database",
        create_privilege="CREATE SCHEMA",
        properties=frozenset({"COMMENT", "DATA_RETENTION_TIME_IN_DAYS", "WITH MANAGED ACCESS"}),
        plural="SCHEMAS",
        columns=columns(
            "created_on:ts name is_default is_current database_name owner comment options retention_time "
            "owner_role_type budget"
        ),
        row=_schema_row,
        on_drop=_schema_drop,
    )
)


# -- roles and users -----------------------------------------------------------------------------------


def _role_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    access = ctx.account.access
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
        _text(obj.comment),
    )


def _role_drop(ctx: Context, obj: CatalogObject) -> None:
    from spcs_emulator.account.access import SYSTEM_ROLES

    if obj.name in SYSTEM_ROLES:
        raise errors.SnowflakeError(
            3016, "42601", f"SQL access control error:\nCannot drop system role '{obj.name}'."
        )
    ctx.account.access.forget_role(obj.name, heir=ctx.session.role)


register(
    KindSpec(
        kind=ast.ROLE,
        word="Role",
        scope="account",
        create_privilege="CREATE ROLE",
        properties=frozenset({"COMMENT"}),
        plural="ROLES",
        columns=columns(
            "created_on:ts name is_default is_current is_inherited assigned_to_users:int granted_to_roles:int "
            "granted_roles:int owner comment"
        ),
        row=_role_row,
        on_drop=_role_drop,
    )
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


def _apply_user_properties(user: User, props: dict[str, Any]) -> None:
    # Credentials live in typed fields, never in `properties` (which SHOW and DESCRIBE render).
    if "PASSWORD" in props:
        user.password = props.pop("PASSWORD")
    if "RSA_PUBLIC_KEY" in props:
        user.rsa_public_key = props.pop("RSA_PUBLIC_KEY")
    if "DEFAULT_ROLE" in props:
        user.default_role = str(props.pop("DEFAULT_ROLE")).upper()
    if "DEFAULT_SECONDARY_ROLES" in props:
        value = props.pop("DEFAULT_SECONDARY_ROLES")
        roles = value if isinstance(value, tuple) else (value,)
        user.default_secondary_roles = tuple(str(r).upper() for r in roles)
    user.properties.update(props)


def _user_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    assert isinstance(obj, User)
    obj.properties = {}
    obj.default_secondary_roles = ("ALL",)  # Snowflake's default for new users
    _apply_user_properties(obj, dict(props))


def _user_alter(ctx: Context, obj: CatalogObject, stmt: ast.Alter) -> Result | None:
    from spcs_emulator.account.handlers import pats
    from spcs_emulator.account.handlers.objects import check_properties

    assert isinstance(obj, User)
    if stmt.action in ("ADD PAT", "REMOVE PAT"):
        return pats.alter_tokens(ctx, obj, stmt)
    if stmt.action == "SET":
        ctx.require_owner(obj)
        props = check_properties(KINDS_USER, stmt.properties, creating=False)
        if "COMMENT" in props:
            obj.comment = props.pop("COMMENT")
        _apply_user_properties(obj, props)
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
        _text(p.get("LOGIN_NAME", obj.name)).upper(),
        _text(p.get("DISPLAY_NAME", obj.name)),
        p.get("FIRST_NAME"),
        p.get("LAST_NAME"),
        p.get("EMAIL"),
        None,
        None,
        _text(obj.comment),
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
    ctx.account.access.forget_user(obj.name)
    for session_id in [sid for sid, s in ctx.account.sessions.items() if s.user == obj.name]:
        del ctx.account.sessions[session_id]


def _user_describe(ctx: Context, obj: CatalogObject) -> Result:
    row = _user_row(ctx, obj)
    names = [c.name for c in KINDS_USER.columns]
    return describe_properties(
        [
            (n.upper(), "String", "null" if v is None else str(v), "null")
            for n, v in zip(names, row, strict=True)
        ]
    )


KINDS_USER = register(
    KindSpec(
        kind=ast.USER,
        word="User",
        scope="account",
        create_privilege="CREATE USER",
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
)


# -- stages ----------------------------------------------------------------------------------------------


def stage_directory(ctx: Context, fqn: tuple[str, ...]):
    return ctx.account.state_dir / "stages" / "/".join(fqn)


def _stage_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    encryption = props.get("ENCRYPTION", {})
    if encryption and str(encryption.get("TYPE", "")).upper() not in ("SNOWFLAKE_SSE", "SNOWFLAKE_FULL"):
        raise errors.invalid(f"invalid value '{encryption.get('TYPE')}' for property 'TYPE'")
    directory = stage_directory(ctx, obj.fqn)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


def _remove_stage_dirs(ctx: Context, prefix: tuple[str, ...]) -> None:
    shutil.rmtree(ctx.account.state_dir / "stages" / "/".join(prefix), ignore_errors=True)


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
        _text(obj.comment),
        None,
        "INTERNAL",
        None,
        None,
        None,
        None,
        "ROLE",
        yn(bool(directory.get("ENABLE"))),
    )


register(
    KindSpec(
        kind=ast.STAGE,
        word="Stage",
        created_word="Stage area",
        scope="schema",
        create_privilege="CREATE STAGE",
        properties=frozenset({"ENCRYPTION", "DIRECTORY", "COMMENT", "FILE_FORMAT", "COPY_OPTIONS"}),
        plural="STAGES",
        columns=columns(
            "created_on:ts name database_name schema_name url has_credentials has_encryption_key owner comment "
            "region type cloud notification_channel storage_integration endpoint owner_role_type "
            "directory_enabled"
        ),
        row=_stage_row,
        on_create=_stage_create,
        on_drop=lambda ctx, obj: _remove_stage_dirs(ctx, obj.fqn),
    )
)


# -- image repositories -----------------------------------------------------------------------------------


def repository_url(ctx: Context, obj: CatalogObject) -> str:
    host = ctx.account.extensions.get("registry_host", "registry.local")
    return f"{host}/" + "/".join(p.lower() for p in obj.fqn)


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


register(
    KindSpec(
        kind=ast.IMAGE_REPOSITORY,
        word="Image repository",
        scope="schema",
        create_privilege="CREATE IMAGE REPOSITORY",
        properties=frozenset({"ENCRYPTION", "COMMENT"}),
        plural="IMAGE REPOSITORIES",
        columns=columns(
            "created_on:ts name database_name schema_name repository_url owner owner_role_type comment encryption "
            "privatelink_repository_url"
        ),
        row=_repo_row,
        on_create=_repo_create,
    )
)


# -- network rules and integrations --------------------------------------------------------------------------

NETWORK_RULE_TYPES = {"IPV4", "AWSVPCEID", "AZURELINKID", "GCPPSCID", "HOST_PORT", "PRIVATE_HOST_PORT"}
NETWORK_RULE_MODES = {"INGRESS", "INTERNAL_STAGE", "EGRESS", "POSTGRES_INGRESS", "POSTGRES_EGRESS"}


def _network_rule_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    rule_type = str(props.get("TYPE", "IPV4")).upper()
    mode = str(props.get("MODE", "INGRESS")).upper()
    if rule_type not in NETWORK_RULE_TYPES:
        raise errors.invalid(f"invalid value '{rule_type}' for property 'TYPE'")
    if mode not in NETWORK_RULE_MODES:
        raise errors.invalid(f"invalid value '{mode}' for property 'MODE'")
    values = props.get("VALUE_LIST", ())
    obj.properties.update(
        {
            "TYPE": rule_type,
            "MODE": mode,
            "VALUE_LIST": tuple(values) if isinstance(values, tuple) else (values,),
        }
    )


register(
    KindSpec(
        kind=ast.NETWORK_RULE,
        word="Network rule",
        scope="schema",
        create_privilege="CREATE NETWORK RULE",
        properties=frozenset({"TYPE", "MODE", "VALUE_LIST", "COMMENT"}),
        required=frozenset({"VALUE_LIST"}),
        plural="NETWORK RULES",
        columns=columns(
            "created_on:ts name database_name schema_name owner comment type mode entries_in_valuelist:int "
            "owner_role_type"
        ),
        row=lambda ctx, obj: (
            obj.created_on,
            obj.name,
            obj.fqn[0],
            obj.fqn[1],
            owner_of(ctx, obj),
            _text(obj.comment),
            obj.properties["TYPE"],
            obj.properties["MODE"],
            len(obj.properties["VALUE_LIST"]),
            "ROLE",
        ),
        on_create=_network_rule_create,
        describe=lambda ctx, obj: table(
            columns("created_on:ts name database_name schema_name owner comment type mode value_list"),
            [
                (
                    obj.created_on,
                    obj.name,
                    obj.fqn[0],
                    obj.fqn[1],
                    owner_of(ctx, obj),
                    _text(obj.comment),
                    obj.properties["TYPE"],
                    obj.properties["MODE"],
                    ",".join(obj.properties["VALUE_LIST"]),
                )
            ],
        ),
    )
)


def _eai_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    rules = props.get("ALLOWED_NETWORK_RULES", ())
    rules = rules if isinstance(rules, tuple) else (rules,)
    resolved = []
    for rule in rules:
        name = ast.Name(tuple(str(rule).split(".")))
        resolved.append(".".join(ctx.lookup(ast.NETWORK_RULE, name).fqn))
    obj.properties["ALLOWED_NETWORK_RULES"] = tuple(resolved)


def _integration_row(ctx: Context, obj: CatalogObject) -> tuple[Any, ...]:
    if obj.subtype == ast.SECURITY_INTEGRATION:
        kind = "OAUTH - " + str(obj.properties.get("OAUTH_CLIENT", "")).upper()
        category = "SECURITY"
    else:
        kind, category = "EXTERNAL_ACCESS", "EXTERNAL_ACCESS"
    return (
        obj.name,
        kind,
        category,
        tf(obj.properties.get("ENABLED") is True),
        _text(obj.comment),
        obj.created_on,
    )


INTEGRATION_COLUMNS = columns("name type category enabled comment created_on:ts")

register(
    KindSpec(
        kind=ast.EXTERNAL_ACCESS_INTEGRATION,
        word="Integration",
        created_word="Integration",
        scope="account",
        create_privilege="CREATE INTEGRATION",
        properties=frozenset(
            {
                "ALLOWED_NETWORK_RULES",
                "ALLOWED_API_AUTHENTICATION_INTEGRATIONS",
                "ALLOWED_AUTHENTICATION_SECRETS",
                "ENABLED",
                "COMMENT",
            }
        ),
        required=frozenset({"ALLOWED_NETWORK_RULES", "ENABLED"}),
        plural="EXTERNAL ACCESS INTEGRATIONS",
        columns=INTEGRATION_COLUMNS,
        row=_integration_row,
        on_create=_eai_create,
    )
)


def _security_integration_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    if (
        str(props.get("TYPE", "")).upper() != "OAUTH"
        or str(props.get("OAUTH_CLIENT", "")).upper() != "SNOWSERVICES_INGRESS"
    ):
        raise errors.not_emulated(
            "security integrations other than TYPE = OAUTH OAUTH_CLIENT = SNOWSERVICES_INGRESS"
        )
    for other in ctx.account.catalog.all(ast.INTEGRATION):
        if other.subtype == ast.SECURITY_INTEGRATION and other.name != obj.name:
            # Only one SNOWSERVICES_INGRESS integration may exist per account.
            raise errors.compilation(
                f"An integration with OAUTH_CLIENT = SNOWSERVICES_INGRESS already exists: '{other.name}'.",
                errno=2002,
                sqlstate="42710",
            )
    obj.properties["OAUTH_CLIENT"] = "SNOWSERVICES_INGRESS"


register(
    KindSpec(
        kind=ast.SECURITY_INTEGRATION,
        word="Integration",
        scope="account",
        create_privilege="CREATE INTEGRATION",
        properties=frozenset({"TYPE", "OAUTH_CLIENT", "ENABLED", "COMMENT"}),
        required=frozenset({"TYPE", "OAUTH_CLIENT"}),
        plural="SECURITY INTEGRATIONS",
        columns=INTEGRATION_COLUMNS,
        row=_integration_row,
        on_create=_security_integration_create,
    )
)

# SHOW INTEGRATIONS / DROP INTEGRATION / GRANT ... ON INTEGRATION: both flavours, one namespace.
register(
    KindSpec(
        kind=ast.INTEGRATION,
        word="Integration",
        scope="account",
        create_privilege="CREATE INTEGRATION",
        properties=frozenset({"ENABLED", "COMMENT"}),
        plural="INTEGRATIONS",
        columns=INTEGRATION_COLUMNS,
        row=_integration_row,
    )
)


# -- secrets ---------------------------------------------------------------------------------------------

SECRET_TYPES = {"PASSWORD", "GENERIC_STRING"}


def _secret_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    secret_type = str(props.get("TYPE", "")).upper()
    if secret_type not in SECRET_TYPES:
        raise errors.not_emulated(f"secrets of TYPE = {secret_type or '?'}")
    if secret_type == "PASSWORD" and not {"USERNAME", "PASSWORD"} <= set(props):
        raise errors.compilation("missing option(s) [USERNAME, PASSWORD]", errno=2043, sqlstate="22023")
    if secret_type == "GENERIC_STRING" and "SECRET_STRING" not in props:
        raise errors.compilation("missing option(s) [SECRET_STRING]", errno=2043, sqlstate="22023")
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
        _text(obj.comment),
        obj.properties["TYPE"],
        None,
        "ROLE",
    )


register(
    KindSpec(
        kind=ast.SECRET,
        word="Secret",
        scope="schema",
        create_privilege="CREATE SECRET",
        properties=frozenset({"TYPE", "USERNAME", "PASSWORD", "SECRET_STRING", "COMMENT"}),
        plural="SECRETS",
        columns=columns(
            "created_on:ts name schema_name database_name owner comment secret_type oauth_scopes owner_role_type"
        ),
        row=_secret_row,
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
                    _text(obj.comment),
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
)
