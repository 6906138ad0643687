"""Network rules, external access integrations and the ingress security integration."""

from __future__ import annotations

from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.account.show import columns, describe_properties, owner_of, text, tf
from spcs_emulator.results import Result, table
from spcs_emulator.sql import ast

NETWORK_RULE_TYPES = {"IPV4", "AWSVPCEID", "AZURELINKID", "GCPPSCID", "HOST_PORT", "PRIVATE_HOST_PORT"}
NETWORK_RULE_MODES = {"INGRESS", "INTERNAL_STAGE", "EGRESS", "POSTGRES_INGRESS", "POSTGRES_EGRESS"}


def _network_rule_check(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    rule_type = str(props.get("TYPE", "IPV4")).upper()
    mode = str(props.get("MODE", "INGRESS")).upper()
    if rule_type not in NETWORK_RULE_TYPES:
        raise errors.invalid(f"invalid value '{rule_type}' for property 'TYPE'")
    if mode not in NETWORK_RULE_MODES:
        raise errors.invalid(f"invalid value '{mode}' for property 'MODE'")


def _network_rule_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    rule_type = str(props.get("TYPE", "IPV4")).upper()
    mode = str(props.get("MODE", "INGRESS")).upper()
    values = props.get("VALUE_LIST", ())
    obj.properties.update(
        {
            "TYPE": rule_type,
            "MODE": mode,
            "VALUE_LIST": tuple(values) if isinstance(values, tuple) else (values,),
        }
    )


NETWORK_RULE_KIND = ObjectKind(
    kind=ast.NETWORK_RULE,
    word="Network rule",
    namespace="schema",
    create_privilege="CREATE NETWORK RULE",
    privileges=(),
    properties=frozenset({"TYPE", "MODE", "VALUE_LIST", "COMMENT"}),
    required=frozenset({"VALUE_LIST"}),
    # UNSET VALUE_LIST empties the list (the Terraform provider's testint: entries_in_valuelist 0).
    unsettable=frozenset({"VALUE_LIST"}),
    defaults={"VALUE_LIST": ()},
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
        text(obj.comment),
        obj.properties["TYPE"],
        obj.properties["MODE"],
        len(obj.properties["VALUE_LIST"]),
        "ROLE",
    ),
    check_create=_network_rule_check,
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
                text(obj.comment),
                obj.properties["TYPE"],
                obj.properties["MODE"],
                ",".join(obj.properties["VALUE_LIST"]),
            )
        ],
    ),
)


def _eai_rules(ctx: Context, props: dict[str, Any]) -> tuple[str, ...]:
    """The allowed network rules, each resolved (002003 for one that is missing or invisible)."""
    rules = props.get("ALLOWED_NETWORK_RULES", ())
    rules = rules if isinstance(rules, tuple) else (rules,)
    resolved = []
    for rule in rules:
        name = ast.Name(tuple(str(rule).split(".")))
        resolved.append(".".join(ctx.lookup(ast.NETWORK_RULE, name).fqn))
    return tuple(resolved)


def _eai_check(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    _eai_rules(ctx, props)


def _eai_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    obj.properties["ALLOWED_NETWORK_RULES"] = _eai_rules(ctx, props)


def _listed(value: Any) -> str:
    """A list property as DESCRIBE shows it: comma-separated, '' for none."""
    values = value if isinstance(value, tuple) else (() if value is None else (value,))
    return ",".join(str(v) for v in values)


def _eai_describe(ctx: Context, obj: CatalogObject) -> Result:
    """DESCRIBE [EXTERNAL ACCESS] INTEGRATION: one row per property (the Terraform provider's
    ExternalAccessIntegrationProperty: property, property_type, property_value, property_default)."""
    p = obj.properties
    return describe_properties(
        [
            ("ENABLED", "Boolean", tf(p.get("ENABLED") is not False), "false"),
            ("ALLOWED_NETWORK_RULES", "List", _listed(p.get("ALLOWED_NETWORK_RULES")), "[]"),
            (
                "ALLOWED_API_AUTHENTICATION_INTEGRATIONS",
                "List",
                _listed(p.get("ALLOWED_API_AUTHENTICATION_INTEGRATIONS")),
                "[]",
            ),
            (
                "ALLOWED_AUTHENTICATION_SECRETS",
                "List",
                _listed(p.get("ALLOWED_AUTHENTICATION_SECRETS")),
                "[]",
            ),
            ("COMMENT", "String", text(obj.comment), ""),
        ]
    )


def _integration_describe(ctx: Context, obj: CatalogObject) -> Result:
    """DESCRIBE INTEGRATION: as its flavour describes it."""
    if obj.subtype != ast.EXTERNAL_ACCESS_INTEGRATION:
        raise errors.not_emulated(f"DESCRIBE {obj.subtype or ast.INTEGRATION}")
    return _eai_describe(ctx, obj)


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
        text(obj.comment),
        obj.created_on,
    )


INTEGRATION_COLUMNS = columns("name type category enabled comment created_on:ts")

EXTERNAL_ACCESS_INTEGRATION_KIND = ObjectKind(
    kind=ast.EXTERNAL_ACCESS_INTEGRATION,
    word="Integration",
    created_word="Integration",
    namespace="account",
    create_privilege="CREATE INTEGRATION",
    privileges=("USAGE",),
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
    # UNSET leaves no rules and ENABLED back at TRUE (the Terraform provider's testint "set and unset
    # all" on an account).
    unsettable=frozenset({"ALLOWED_NETWORK_RULES", "ENABLED"}),
    defaults={"ALLOWED_NETWORK_RULES": (), "ENABLED": True},
    plural="EXTERNAL ACCESS INTEGRATIONS",
    columns=INTEGRATION_COLUMNS,
    row=_integration_row,
    check_create=_eai_check,
    on_create=_eai_create,
    describe=_eai_describe,
)


def _security_integration_check(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    if (
        str(props.get("TYPE", "")).upper() != "OAUTH"
        or str(props.get("OAUTH_CLIENT", "")).upper() != "SNOWSERVICES_INGRESS"
    ):
        raise errors.not_emulated(
            "security integrations other than TYPE = OAUTH OAUTH_CLIENT = SNOWSERVICES_INGRESS"
        )
    for other in ctx.state.catalog.all(ast.INTEGRATION):
        if other.subtype == ast.SECURITY_INTEGRATION and other.name != obj.name:
            # Only one SNOWSERVICES_INGRESS integration may exist per account.
            raise errors.compilation(
                f"An integration with OAUTH_CLIENT = SNOWSERVICES_INGRESS already exists: '{other.name}'.",
                errno=2002,
                sqlstate="42710",
            )


def _security_integration_create(ctx: Context, obj: CatalogObject, props: dict[str, Any]) -> None:
    obj.properties["OAUTH_CLIENT"] = "SNOWSERVICES_INGRESS"


SECURITY_INTEGRATION_KIND = ObjectKind(
    kind=ast.SECURITY_INTEGRATION,
    word="Integration",
    namespace="account",
    create_privilege="CREATE INTEGRATION",
    privileges=("USAGE",),
    properties=frozenset({"TYPE", "OAUTH_CLIENT", "ENABLED", "COMMENT"}),
    required=frozenset({"TYPE", "OAUTH_CLIENT"}),
    plural="SECURITY INTEGRATIONS",
    columns=INTEGRATION_COLUMNS,
    row=_integration_row,
    check_create=_security_integration_check,
    on_create=_security_integration_create,
)

# SHOW INTEGRATIONS / DROP INTEGRATION / GRANT ... ON INTEGRATION: both flavours, one namespace.
INTEGRATION_KIND = ObjectKind(
    kind=ast.INTEGRATION,
    word="Integration",
    namespace="account",
    create_privilege="CREATE INTEGRATION",
    privileges=("USAGE",),
    properties=frozenset({"ENABLED", "COMMENT"}),
    plural="INTEGRATIONS",
    columns=INTEGRATION_COLUMNS,
    row=_integration_row,
    describe=_integration_describe,
)

# Both integration flavours, and the family SHOW INTEGRATIONS lists.
INTEGRATION_KINDS = (EXTERNAL_ACCESS_INTEGRATION_KIND, SECURITY_INTEGRATION_KIND, INTEGRATION_KIND)
