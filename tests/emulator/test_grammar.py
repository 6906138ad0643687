"""The emulator's SQL front end: each statement form the guide, the snow CLI and the harness send."""

from __future__ import annotations

import time

import pytest

from spcs_emulator.errors import SnowflakeError
from spcs_emulator.sql import ast
from spcs_emulator.sql.ast import (
    Alter,
    AlterSession,
    Begin,
    Call,
    Create,
    CreateService,
    Describe,
    Drop,
    FunctionCall,
    Grant,
    GrantRole,
    Ident,
    InlineSpec,
    ListStage,
    Name,
    Put,
    RemoveStage,
    Scope,
    Select,
    ServiceRoleName,
    Show,
    ShowGrants,
    StageRef,
    StageSpec,
    Use,
)
from spcs_emulator.sql.parser import parse


def N(*parts: str) -> Name:
    return Name(parts)


def check(cases: list[tuple[str, ast.Statement]]) -> None:
    for sql, expected in cases:
        assert parse(sql) == expected, sql


# ----------------------------------------------------------------------------------- lexical rules


def test_identifiers_are_upper_cased_unless_quoted() -> None:
    check(
        [
            ("use role milvus_role", Use("ROLE", N("MILVUS_ROLE"))),
            ('use role "Mixed""Case"', Use("ROLE", N('Mixed"Case'))),
            ('use schema db."My Schema"', Use("SCHEMA", N("DB", "My Schema"))),
            ("use database a$b_1", Use("DATABASE", N("A$B_1"))),
            ("use role _r", Use("ROLE", N("_R"))),
        ]
    )


def test_identifier_function_parses_its_string_as_a_name() -> None:
    check(
        [
            ("describe service IDENTIFIER('milvus')", Describe("SERVICE", N("MILVUS"))),
            (
                "describe service IDENTIFIER('db.schema.milvus')",
                Describe("SERVICE", N("DB", "SCHEMA", "MILVUS")),
            ),
            ("describe service identifier('\"Svc\"')", Describe("SERVICE", N("Svc"))),
        ]
    )


def test_string_literals_are_unescaped() -> None:
    check(
        [
            ("show roles like 'it''s'", Show("ROLES", like="it's")),
            (r"show roles like 'a\'b'", Show("ROLES", like="a'b")),
            (r"show roles like 'a\nb\tc'", Show("ROLES", like="a\nb\tc")),
            (r"show roles like 'back\\slash'", Show("ROLES", like="back\\slash")),
            (r"show roles like '\x41\u00e9\101\q'", Show("ROLES", like="Aé" + "Aq")),
            ("show roles like ''", Show("ROLES", like="")),
        ]
    )


def test_like_pattern_keeps_one_backslash_after_unescaping() -> None:
    sql = "show image repositories like 'MILVUS\\\\_REPO'"
    assert sql.count("\\") == 2
    assert parse(sql) == Show("IMAGE REPOSITORIES", like="MILVUS\\_REPO")
    assert parse(sql).like.count("\\") == 1


def test_values_strings_numbers_booleans_null_idents_tuples_dicts() -> None:
    stmt = parse(
        "CREATE WAREHOUSE w S = 'x' I = 42 NEG = -3 F = 1.5 E = 2e3 T = TRUE F2 = false N = NULL "
        "ID = some_ident Q = \"Quoted\" QN = db.s.x TUP = ('a', 1) EMPTY = () "
        "D = (TYPE = 'SNOWFLAKE_SSE', ENABLE = true) D2 = (A = 1 B = 2) DS = $$raw$$"
    )
    assert isinstance(stmt, Create)
    assert stmt.properties == {
        "S": "x",
        "I": 42,
        "NEG": -3,
        "F": 1.5,
        "E": 2000.0,
        "T": True,
        "F2": False,
        "N": None,
        "ID": Ident("SOME_IDENT"),
        "Q": Ident("Quoted"),
        "QN": N("DB", "S", "X"),
        "TUP": ("a", 1),
        "EMPTY": (),
        "D": {"TYPE": "SNOWFLAKE_SSE", "ENABLE": True},
        "D2": {"A": 1, "B": 2},
        "DS": "raw",
    }
    assert list(stmt.properties) == list(stmt.properties.keys())  # order of appearance
    assert type(stmt.properties["I"]) is int
    assert type(stmt.properties["T"]) is bool


def test_properties_may_be_separated_by_commas_and_keys_are_upper_cased() -> None:
    assert parse("alter session set a = 1, b = 'two'") == AlterSession(properties={"A": 1, "B": "two"})


def test_comments_whitespace_and_one_trailing_semicolon_are_ignored() -> None:
    check(
        [
            ("  \n\tSHOW SERVICES ;  \n", Show("SERVICES")),
            ("-- leading comment\nSHOW SERVICES -- trailing\n", Show("SERVICES")),
            ("/* block\n comment */ SHOW /* inner */ SERVICES; /* after */", Show("SERVICES")),
            ("SHOW SERVICES LIKE '-- not a comment /* */'", Show("SERVICES", like="-- not a comment /* */")),
        ]
    )


def test_keywords_are_case_insensitive() -> None:
    check([("sHoW sErViCeS", Show("SERVICES")), ("Use Role r", Use("ROLE", N("R")))])


def test_keywords_used_as_names() -> None:
    check(
        [
            ("CREATE STAGE DATA", Create("STAGE", N("DATA"))),
            ("CREATE STAGE FILES", Create("STAGE", N("FILES"))),
            ("DROP SERVICE JUPYTER", Drop("SERVICE", N("JUPYTER"))),
            ("DESCRIBE STAGE SERVICES", Describe("STAGE", N("SERVICES"))),
            (
                "GRANT USAGE ON DATABASE d TO ROLE_ADMIN",
                Grant(("USAGE",), "DATABASE", N("D"), N("ROLE_ADMIN")),
            ),
            ("LIST @DATA", ListStage(StageRef(N("DATA")))),
            ("USE ROLEX", Use("DATABASE", N("ROLEX"))),
        ]
    )


# ------------------------------------------------------------------------------------------- USE


def test_use() -> None:
    check(
        [
            ("USE ROLE ACCOUNTADMIN;", Use("ROLE", N("ACCOUNTADMIN"))),
            ("USE DATABASE MILVUS_DEMO;", Use("DATABASE", N("MILVUS_DEMO"))),
            ("USE SCHEMA PUBLIC;", Use("SCHEMA", N("PUBLIC"))),
            ("USE SCHEMA MILVUS_DEMO.PUBLIC", Use("SCHEMA", N("MILVUS_DEMO", "PUBLIC"))),
            ("USE WAREHOUSE W;", Use("WAREHOUSE", N("W"))),
            ("USE SECONDARY ROLES ALL;", Use("SECONDARY ROLES", None, "ALL")),
            ("use secondary roles none", Use("SECONDARY ROLES", None, "NONE")),
            ("USE MILVUS_DEMO", Use("DATABASE", N("MILVUS_DEMO"))),
        ]
    )


# ---------------------------------------------------------------------------------------- CREATE


def test_create_security_integration() -> None:
    sql = (
        "CREATE SECURITY INTEGRATION SNOWSERVICES_INGRESS_OAUTH\n  TYPE=oauth\n"
        "  OAUTH_CLIENT=snowservices_ingress\n  ENABLED=true;"
    )
    assert parse(sql) == Create(
        "SECURITY INTEGRATION",
        N("SNOWSERVICES_INGRESS_OAUTH"),
        properties={"TYPE": Ident("OAUTH"), "OAUTH_CLIENT": Ident("SNOWSERVICES_INGRESS"), "ENABLED": True},
    )


def test_create_role() -> None:
    check(
        [
            ("CREATE ROLE MILVUS_ROLE;", Create("ROLE", N("MILVUS_ROLE"))),
            (
                "CREATE ROLE IF NOT EXISTS r COMMENT = 'c'",
                Create("ROLE", N("R"), if_not_exists=True, properties={"COMMENT": "c"}),
            ),
        ]
    )


def test_create_user() -> None:
    sql = (
        "CREATE USER milvus_user\n  PASSWORD='milvususerok'\n  DEFAULT_ROLE = MILVUS_ROLE\n"
        "  DEFAULT_SECONDARY_ROLES = ('ALL')\n  MUST_CHANGE_PASSWORD = FALSE;"
    )
    assert parse(sql) == Create(
        "USER",
        N("MILVUS_USER"),
        properties={
            "PASSWORD": "milvususerok",
            "DEFAULT_ROLE": Ident("MILVUS_ROLE"),
            "DEFAULT_SECONDARY_ROLES": ("ALL",),
            "MUST_CHANGE_PASSWORD": False,
        },
    )


def test_create_warehouse_with() -> None:
    sql = (
        "CREATE OR REPLACE WAREHOUSE MILVUS_WAREHOUSE WITH\nWAREHOUSE_SIZE='X-SMALL'\nAUTO_SUSPEND = 180\n"
        "AUTO_RESUME = true\nINITIALLY_SUSPENDED=false;"
    )
    assert parse(sql) == Create(
        "WAREHOUSE",
        N("MILVUS_WAREHOUSE"),
        or_replace=True,
        properties={
            "WAREHOUSE_SIZE": "X-SMALL",
            "AUTO_SUSPEND": 180,
            "AUTO_RESUME": True,
            "INITIALLY_SUSPENDED": False,
        },
    )


def test_create_database_and_schema() -> None:
    check(
        [
            (
                "CREATE DATABASE IF NOT EXISTS MILVUS_DEMO;",
                Create("DATABASE", N("MILVUS_DEMO"), if_not_exists=True),
            ),
            (
                "CREATE DATABASE d COMMENT = 'milvus-spcs run=abc123 created=x'",
                Create("DATABASE", N("D"), properties={"COMMENT": "milvus-spcs run=abc123 created=x"}),
            ),
            ("CREATE SCHEMA IF NOT EXISTS d.s", Create("SCHEMA", N("D", "S"), if_not_exists=True)),
        ]
    )


def test_create_image_repository() -> None:
    check(
        [
            (
                "CREATE IMAGE REPOSITORY MILVUS_DEMO.PUBLIC.MILVUS_REPO;",
                Create("IMAGE REPOSITORY", N("MILVUS_DEMO", "PUBLIC", "MILVUS_REPO")),
            ),
            ("create image repository milvus_repo", Create("IMAGE REPOSITORY", N("MILVUS_REPO"))),
            ("create or replace image repository r", Create("IMAGE REPOSITORY", N("R"), or_replace=True)),
            (
                "create image repository if not exists r",
                Create("IMAGE REPOSITORY", N("R"), if_not_exists=True),
            ),
        ]
    )


def test_create_stage() -> None:
    sse = {"ENCRYPTION": {"TYPE": "SNOWFLAKE_SSE"}}
    check(
        [
            ("CREATE OR REPLACE STAGE YAML_STAGE;", Create("STAGE", N("YAML_STAGE"), or_replace=True)),
            (
                "CREATE OR REPLACE STAGE DATA ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE');",
                Create("STAGE", N("DATA"), or_replace=True, properties=sse),
            ),
            (
                "CREATE OR REPLACE STAGE FILES ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE');",
                Create("STAGE", N("FILES"), or_replace=True, properties=sse),
            ),
            (
                "CREATE STAGE s DIRECTORY = (ENABLE = TRUE)",
                Create("STAGE", N("S"), properties={"DIRECTORY": {"ENABLE": True}}),
            ),
        ]
    )


def test_create_network_rule() -> None:
    sql = (
        "CREATE NETWORK RULE allow_all_rule\nTYPE = 'HOST_PORT'\nMODE= 'EGRESS'\n"
        "VALUE_LIST = ('0.0.0.0:443','0.0.0.0:80');"
    )
    assert parse(sql) == Create(
        "NETWORK RULE",
        N("ALLOW_ALL_RULE"),
        properties={"TYPE": "HOST_PORT", "MODE": "EGRESS", "VALUE_LIST": ("0.0.0.0:443", "0.0.0.0:80")},
    )
    assert parse(
        "CREATE OR REPLACE NETWORK RULE n MODE = EGRESS TYPE = HOST_PORT VALUE_LIST = ('a:443')"
    ) == Create(
        "NETWORK RULE",
        N("N"),
        or_replace=True,
        properties={"MODE": Ident("EGRESS"), "TYPE": Ident("HOST_PORT"), "VALUE_LIST": ("a:443",)},
    )


def test_create_external_access_integration() -> None:
    sql = (
        "CREATE EXTERNAL ACCESS INTEGRATION allow_all_eai\nALLOWED_NETWORK_RULES=(allow_all_rule)\n"
        "ENABLED=TRUE;"
    )
    assert parse(sql) == Create(
        "EXTERNAL ACCESS INTEGRATION",
        N("ALLOW_ALL_EAI"),
        properties={"ALLOWED_NETWORK_RULES": (Ident("ALLOW_ALL_RULE"),), "ENABLED": True},
    )
    stmt = parse("CREATE EXTERNAL ACCESS INTEGRATION e ALLOWED_NETWORK_RULES = (db.s.r1, r2)")
    assert stmt.properties == {"ALLOWED_NETWORK_RULES": (N("DB", "S", "R1"), Ident("R2"))}


def test_create_compute_pool() -> None:
    guide = (
        "CREATE COMPUTE POOL IF NOT EXISTS MILVUS_COMPUTE_POOL\n  MIN_NODES = 1\n  MAX_NODES = 1\n"
        "  INSTANCE_FAMILY = CPU_X64_S\n  AUTO_RESUME = true;"
    )
    assert parse(guide) == Create(
        "COMPUTE POOL",
        N("MILVUS_COMPUTE_POOL"),
        if_not_exists=True,
        properties={
            "MIN_NODES": 1,
            "MAX_NODES": 1,
            "INSTANCE_FAMILY": Ident("CPU_X64_S"),
            "AUTO_RESUME": True,
        },
    )
    cli = (
        "CREATE COMPUTE POOL pool1\nMIN_NODES = 1\nMAX_NODES = 1\nINSTANCE_FAMILY = CPU_X64_S\n"
        "AUTO_RESUME = True\nINITIALLY_SUSPENDED = False\nAUTO_SUSPEND_SECS = 3600\n"
        "COMMENT = 'milvus-spcs run=abc123 created=2026-11-25T00:00:00Z'"
    )
    assert parse(cli) == Create(
        "COMPUTE POOL",
        N("POOL1"),
        properties={
            "MIN_NODES": 1,
            "MAX_NODES": 1,
            "INSTANCE_FAMILY": Ident("CPU_X64_S"),
            "AUTO_RESUME": True,
            "INITIALLY_SUSPENDED": False,
            "AUTO_SUSPEND_SECS": 3600,
            "COMMENT": "milvus-spcs run=abc123 created=2026-11-25T00:00:00Z",
        },
    )


def test_create_secret() -> None:
    check(
        [
            (
                "CREATE SECRET s TYPE = PASSWORD USERNAME = 'u' PASSWORD = 'p' COMMENT = 'x'",
                Create(
                    "SECRET",
                    N("S"),
                    properties={"TYPE": Ident("PASSWORD"), "USERNAME": "u", "PASSWORD": "p", "COMMENT": "x"},
                ),
            ),
            (
                "CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = 'v'",
                Create("SECRET", N("S"), properties={"TYPE": Ident("GENERIC_STRING"), "SECRET_STRING": "v"}),
            ),
        ]
    )


# ----------------------------------------------------------------------------------- CREATE SERVICE


def test_create_service_from_stage_guide() -> None:
    sql = (
        "CREATE SERVICE MILVUS\n  IN COMPUTE POOL MILVUS_COMPUTE_POOL \n  FROM @YAML_STAGE\n"
        "  SPEC='milvus.yaml'\n  MIN_INSTANCES=1\n  MAX_INSTANCES=1;"
    )
    assert parse(sql) == CreateService(
        N("MILVUS"),
        N("MILVUS_COMPUTE_POOL"),
        StageSpec(StageRef(N("YAML_STAGE"), ""), "milvus.yaml"),
        properties={"MIN_INSTANCES": 1, "MAX_INSTANCES": 1},
    )


def test_create_service_inline_specification() -> None:
    spec = '\n{"spec": {"containers": [{"name": "main", "image": "/db/s/r/img:1"}]}}\n'
    sql = (
        f"CREATE SERVICE milvus\nIN COMPUTE POOL pool1\nFROM SPECIFICATION $${spec}$$\n"
        "MIN_INSTANCES = 1\nMAX_INSTANCES = 1\nAUTO_RESUME = True"
    )
    assert parse(sql) == CreateService(
        N("MILVUS"),
        N("POOL1"),
        InlineSpec(spec),
        properties={"MIN_INSTANCES": 1, "MAX_INSTANCES": 1, "AUTO_RESUME": True},
    )
    more = parse(sql + "\nEXTERNAL_ACCESS_INTEGRATIONS = (a,b)\nQUERY_WAREHOUSE = wh\nCOMMENT = 'x'")
    assert isinstance(more, CreateService)
    assert more.properties == {
        "MIN_INSTANCES": 1,
        "MAX_INSTANCES": 1,
        "AUTO_RESUME": True,
        "EXTERNAL_ACCESS_INTEGRATIONS": (Ident("A"), Ident("B")),
        "QUERY_WAREHOUSE": Ident("WH"),
        "COMMENT": "x",
    }


def test_create_service_inline_yaml_spanning_lines() -> None:
    spec = "\nspec:\n  containers:\n  - name: main  # a ' quote and -- dashes\n    image: /a/b/c/d:1\n"
    stmt = parse(f"CREATE SERVICE s IN COMPUTE POOL p FROM SPECIFICATION $${spec}$$")
    assert stmt == CreateService(N("S"), N("P"), InlineSpec(spec))


def test_create_service_from_stage_specification_file() -> None:
    check(
        [
            (
                "CREATE SERVICE x IN COMPUTE POOL p FROM @stage SPECIFICATION_FILE = 'spec.yml' "
                "AUTO_RESUME = True MIN_INSTANCES=1",
                CreateService(
                    N("X"),
                    N("P"),
                    StageSpec(StageRef(N("STAGE")), "spec.yml"),
                    properties={"AUTO_RESUME": True, "MIN_INSTANCES": 1},
                ),
            ),
            (
                "CREATE SERVICE x IN COMPUTE POOL p FROM @db.s.stage/sub/dir SPECIFICATION_FILE = 'spec.yml'",
                CreateService(
                    N("X"), N("P"), StageSpec(StageRef(N("DB", "S", "STAGE"), "sub/dir"), "spec.yml")
                ),
            ),
        ]
    )


def test_create_or_replace_service_parses() -> None:
    assert parse(
        "CREATE OR REPLACE SERVICE x IN COMPUTE POOL p FROM SPECIFICATION $$spec: {}$$"
    ) == CreateService(N("X"), N("P"), InlineSpec("spec: {}"), or_replace=True)
    assert parse("CREATE SERVICE IF NOT EXISTS x IN COMPUTE POOL p FROM SPECIFICATION 'spec: {}'") == (
        CreateService(N("X"), N("P"), InlineSpec("spec: {}"), if_not_exists=True)
    )


# ----------------------------------------------------------------------------------------- GRANT


def test_grant_privileges_on_account() -> None:
    check(
        [
            (
                "GRANT BIND SERVICE ENDPOINT ON ACCOUNT TO ROLE SYSADMIN;",
                Grant(("BIND SERVICE ENDPOINT",), "ACCOUNT", None, N("SYSADMIN")),
            ),
            (
                "GRANT CREATE COMPUTE POOL ON ACCOUNT TO ROLE r",
                Grant(("CREATE COMPUTE POOL",), "ACCOUNT", None, N("R")),
            ),
        ]
    )


def test_grant_all_privileges_without_role_keyword() -> None:
    check(
        [
            (
                "GRANT ALL PRIVILEGES ON DATABASE MILVUS_DEMO TO MILVUS_ROLE;",
                Grant(("ALL",), "DATABASE", N("MILVUS_DEMO"), N("MILVUS_ROLE")),
            ),
            (
                "GRANT ALL PRIVILEGES ON SCHEMA MILVUS_DEMO.PUBLIC TO MILVUS_ROLE;",
                Grant(("ALL",), "SCHEMA", N("MILVUS_DEMO", "PUBLIC"), N("MILVUS_ROLE")),
            ),
            (
                "GRANT ALL PRIVILEGES ON WAREHOUSE MILVUS_WAREHOUSE TO MILVUS_ROLE;",
                Grant(("ALL",), "WAREHOUSE", N("MILVUS_WAREHOUSE"), N("MILVUS_ROLE")),
            ),
            (
                "GRANT ALL PRIVILEGES ON STAGE MILVUS_DEMO.PUBLIC.FILES TO MILVUS_ROLE;",
                Grant(("ALL",), "STAGE", N("MILVUS_DEMO", "PUBLIC", "FILES"), N("MILVUS_ROLE")),
            ),
            ("GRANT ALL ON STAGE s TO ROLE r", Grant(("ALL",), "STAGE", N("S"), N("R"))),
        ]
    )


def test_grant_on_integration_keeps_the_kind_written() -> None:
    check(
        [
            (
                "GRANT USAGE ON INTEGRATION allow_all_eai TO ROLE SYSADMIN;",
                Grant(("USAGE",), "INTEGRATION", N("ALLOW_ALL_EAI"), N("SYSADMIN")),
            ),
            (
                "GRANT USAGE ON EXTERNAL ACCESS INTEGRATION e TO ROLE r",
                Grant(("USAGE",), "EXTERNAL ACCESS INTEGRATION", N("E"), N("R")),
            ),
        ]
    )


def test_grant_on_objects() -> None:
    check(
        [
            (
                "GRANT USAGE ON SERVICE MILVUS_DEMO.PUBLIC.JUPYTER TO ROLE MILVUS_ROLE;",
                Grant(("USAGE",), "SERVICE", N("MILVUS_DEMO", "PUBLIC", "JUPYTER"), N("MILVUS_ROLE")),
            ),
            (
                "GRANT READ ON SECRET db.s.sec TO ROLE r",
                Grant(("READ",), "SECRET", N("DB", "S", "SEC"), N("R")),
            ),
            ("GRANT USAGE ON SECRET s TO ROLE r", Grant(("USAGE",), "SECRET", N("S"), N("R"))),
            (
                "GRANT USAGE, MONITOR ON COMPUTE POOL p TO ROLE r",
                Grant(("USAGE", "MONITOR"), "COMPUTE POOL", N("P"), N("R")),
            ),
            (
                "GRANT CREATE SERVICE, CREATE STAGE ON SCHEMA db.public TO ROLE r WITH GRANT OPTION",
                Grant(
                    ("CREATE SERVICE", "CREATE STAGE"),
                    "SCHEMA",
                    N("DB", "PUBLIC"),
                    N("R"),
                    with_grant_option=True,
                ),
            ),
            ("GRANT READ, WRITE ON STAGE s TO ROLE r", Grant(("READ", "WRITE"), "STAGE", N("S"), N("R"))),
            (
                "GRANT READ ON IMAGE REPOSITORY db.s.repo TO ROLE r",
                Grant(("READ",), "IMAGE REPOSITORY", N("DB", "S", "REPO"), N("R")),
            ),
            ("GRANT USAGE ON DATABASE d TO ROLE r", Grant(("USAGE",), "DATABASE", N("D"), N("R"))),
            (
                "GRANT OWNERSHIP ON COMPUTE POOL p TO ROLE r",
                Grant(("OWNERSHIP",), "COMPUTE POOL", N("P"), N("R")),
            ),
            ("GRANT USAGE ON SCHEMA d.s TO ROLE r;", Grant(("USAGE",), "SCHEMA", N("D", "S"), N("R"))),
        ]
    )


def test_revoke_privileges() -> None:
    assert parse("REVOKE USAGE ON WAREHOUSE w FROM ROLE r") == Grant(
        ("USAGE",), "WAREHOUSE", N("W"), N("R"), revoke=True
    )


def test_grant_and_revoke_role() -> None:
    check(
        [
            (
                "GRANT ROLE MILVUS_ROLE TO USER milvus_user;",
                GrantRole(N("MILVUS_ROLE"), "USER", N("MILVUS_USER")),
            ),
            ("GRANT ROLE r TO ROLE SYSADMIN", GrantRole(N("R"), "ROLE", N("SYSADMIN"))),
            ("REVOKE ROLE r FROM USER u", GrantRole(N("R"), "USER", N("U"), revoke=True)),
        ]
    )


def test_grant_and_revoke_service_role() -> None:
    check(
        [
            (
                "GRANT SERVICE ROLE db.s.svc!ALL_ENDPOINTS_USAGE TO ROLE r",
                GrantRole(ServiceRoleName(N("DB", "S", "SVC"), "ALL_ENDPOINTS_USAGE"), "ROLE", N("R")),
            ),
            (
                "REVOKE SERVICE ROLE svc!ALL_ENDPOINTS_USAGE FROM ROLE r",
                GrantRole(ServiceRoleName(N("SVC"), "ALL_ENDPOINTS_USAGE"), "ROLE", N("R"), revoke=True),
            ),
        ]
    )


# ------------------------------------------------------------------------------------------ SHOW


def test_show_services() -> None:
    check(
        [
            ("SHOW SERVICES;", Show("SERVICES")),
            ("show services like '%%'", Show("SERVICES", like="%%")),
            (
                "show services like 'mil%' in compute pool pool1",
                Show("SERVICES", like="mil%", scope=Scope("COMPUTE POOL", N("POOL1"))),
            ),
            ("SHOW TERSE SERVICES IN ACCOUNT", Show("SERVICES", scope=Scope("ACCOUNT"), terse=True)),
            ("SHOW SERVICES IN DATABASE", Show("SERVICES", scope=Scope("DATABASE"))),
            (
                "SHOW SERVICES LIKE 'a%' IN SCHEMA d.s STARTS WITH 'A' LIMIT 5",
                Show("SERVICES", "a%", Scope("SCHEMA", N("D", "S")), starts_with="A", limit=5),
            ),
        ]
    )


def test_show_in_service() -> None:
    svc = Scope("SERVICE", N("MILVUS"))
    check(
        [
            (
                "SHOW ENDPOINTS IN SERVICE MILVUS_DEMO.PUBLIC.JUPYTER;",
                Show("ENDPOINTS", scope=Scope("SERVICE", N("MILVUS_DEMO", "PUBLIC", "JUPYTER"))),
            ),
            ("show endpoints in service milvus", Show("ENDPOINTS", scope=svc)),
            ("show service containers in service milvus", Show("SERVICE CONTAINERS", scope=svc)),
            ("show service instances in service milvus", Show("SERVICE INSTANCES", scope=svc)),
            ("show roles in service milvus", Show("ROLES", scope=svc)),
        ]
    )


def test_show_compute_pools() -> None:
    check(
        [
            ("show compute pools like '%%'", Show("COMPUTE POOLS", like="%%")),
            ("SHOW COMPUTE POOLS LIMIT 10", Show("COMPUTE POOLS", limit=10)),
        ]
    )


def test_show_image_repositories_and_images() -> None:
    check(
        [
            ("show image repositories like '%%'", Show("IMAGE REPOSITORIES", like="%%")),
            (
                "show image repositories like 'R' in schema DB.SCHEMA",
                Show("IMAGE REPOSITORIES", like="R", scope=Scope("SCHEMA", N("DB", "SCHEMA"))),
            ),
            (
                "show images like '%%' in image repository milvus_repo",
                Show("IMAGES", like="%%", scope=Scope("IMAGE REPOSITORY", N("MILVUS_REPO"))),
            ),
            (
                "show image repositories in schema snowflake.images;",
                Show("IMAGE REPOSITORIES", scope=Scope("SCHEMA", N("SNOWFLAKE", "IMAGES"))),
            ),
            ("show image repositories in account", Show("IMAGE REPOSITORIES", scope=Scope("ACCOUNT"))),
        ]
    )


def test_show_other_objects() -> None:
    in_ds = Scope("SCHEMA", N("D", "S"))
    check(
        [
            ("SHOW ROLES", Show("ROLES")),
            ("SHOW ROLES LIKE 'MILVUS%'", Show("ROLES", like="MILVUS%")),
            ("SHOW USERS LIKE 'X'", Show("USERS", like="X")),
            ("SHOW WAREHOUSES LIKE 'W'", Show("WAREHOUSES", like="W")),
            ("SHOW DATABASES", Show("DATABASES")),
            ("SHOW SCHEMAS IN DATABASE d", Show("SCHEMAS", scope=Scope("DATABASE", N("D")))),
            ("SHOW STAGES IN SCHEMA d.s", Show("STAGES", scope=in_ds)),
            ("SHOW NETWORK RULES IN SCHEMA d.s", Show("NETWORK RULES", scope=in_ds)),
            ("SHOW EXTERNAL ACCESS INTEGRATIONS", Show("EXTERNAL ACCESS INTEGRATIONS")),
            ("SHOW INTEGRATIONS", Show("INTEGRATIONS")),
            ("SHOW SECURITY INTEGRATIONS", Show("SECURITY INTEGRATIONS")),
            ("SHOW SECRETS IN SCHEMA d.s", Show("SECRETS", scope=in_ds)),
            (
                "SHOW PARAMETERS LIKE 'event_table' IN ACCOUNT",
                Show("PARAMETERS", like="event_table", scope=Scope("ACCOUNT")),
            ),
        ]
    )


def test_show_grants() -> None:
    check(
        [
            ("SHOW GRANTS TO ROLE r", ShowGrants("TO ROLE", name=N("R"))),
            ("SHOW GRANTS OF ROLE r", ShowGrants("OF ROLE", name=N("R"))),
            ("SHOW GRANTS TO USER u", ShowGrants("TO USER", name=N("U"))),
            ("SHOW GRANTS ON ACCOUNT", ShowGrants("ON", kind="ACCOUNT")),
            ("SHOW GRANTS ON SERVICE db.s.svc", ShowGrants("ON", "SERVICE", N("DB", "S", "SVC"))),
            ("SHOW GRANTS ON COMPUTE POOL p", ShowGrants("ON", "COMPUTE POOL", N("P"))),
            (
                "SHOW GRANTS TO SERVICE ROLE svc!ALL_ENDPOINTS_USAGE",
                ShowGrants("TO SERVICE ROLE", name=ServiceRoleName(N("SVC"), "ALL_ENDPOINTS_USAGE")),
            ),
            (
                "SHOW GRANTS OF SERVICE ROLE svc!ALL_ENDPOINTS_USAGE",
                ShowGrants("OF SERVICE ROLE", name=ServiceRoleName(N("SVC"), "ALL_ENDPOINTS_USAGE")),
            ),
            ("SHOW GRANTS", ShowGrants("")),
        ]
    )


# -------------------------------------------------------------------------------------- DESCRIBE


def test_describe() -> None:
    check(
        [
            (
                "DESCRIBE COMPUTE POOL MILVUS_COMPUTE_POOL;",
                Describe("COMPUTE POOL", N("MILVUS_COMPUTE_POOL")),
            ),
            ("describe compute pool IDENTIFIER('pool1')", Describe("COMPUTE POOL", N("POOL1"))),
            ("DESCRIBE SERVICE s", Describe("SERVICE", N("S"))),
            ("DESC SERVICE s", Describe("SERVICE", N("S"))),
            ("DESCRIBE SECRET s", Describe("SECRET", N("S"))),
            ("DESCRIBE USER u", Describe("USER", N("U"))),
            ("DESCRIBE IMAGE REPOSITORY r;", Describe("IMAGE REPOSITORY", N("R"))),
            ("DESCRIBE WAREHOUSE w;", Describe("WAREHOUSE", N("W"))),
            ("DESCRIBE DATABASE d", Describe("DATABASE", N("D"))),
        ]
    )


# ------------------------------------------------------------------------------------------ DROP


def test_drop_guide_teardown() -> None:
    check(
        [
            ("DROP USER milvus_user;", Drop("USER", N("MILVUS_USER"))),
            ("DROP SERVICE MILVUS;", Drop("SERVICE", N("MILVUS"))),
            ("DROP COMPUTE POOL MILVUS_COMPUTE_POOL;", Drop("COMPUTE POOL", N("MILVUS_COMPUTE_POOL"))),
            (
                "DROP IMAGE REPOSITORY MILVUS_DEMO.PUBLIC.MILVUS_REPO;",
                Drop("IMAGE REPOSITORY", N("MILVUS_DEMO", "PUBLIC", "MILVUS_REPO")),
            ),
            ("DROP DATABASE MILVUS_DEMO;", Drop("DATABASE", N("MILVUS_DEMO"))),
            ("DROP WAREHOUSE MILVUS_WAREHOUSE;", Drop("WAREHOUSE", N("MILVUS_WAREHOUSE"))),
            ("DROP ROLE MILVUS_ROLE;", Drop("ROLE", N("MILVUS_ROLE"))),
            (
                "DROP SECURITY INTEGRATION SNOWSERVICES_INGRESS_OAUTH;",
                Drop("SECURITY INTEGRATION", N("SNOWSERVICES_INGRESS_OAUTH")),
            ),
        ]
    )


def test_drop_cli_forms() -> None:
    check(
        [
            ("drop service IDENTIFIER('milvus')", Drop("SERVICE", N("MILVUS"))),
            ("drop service if exists IDENTIFIER('milvus') force", Drop("SERVICE", N("MILVUS"), True, True)),
            ("drop compute pool IDENTIFIER('pool1')", Drop("COMPUTE POOL", N("POOL1"))),
        ]
    )


def test_drop_if_exists() -> None:
    check(
        [
            ("DROP SCHEMA IF EXISTS d.s CASCADE", Drop("SCHEMA", N("D", "S"), if_exists=True)),
            ("DROP STAGE IF EXISTS s", Drop("STAGE", N("S"), if_exists=True)),
            ("DROP NETWORK RULE IF EXISTS d.s.n", Drop("NETWORK RULE", N("D", "S", "N"), if_exists=True)),
            (
                "DROP EXTERNAL ACCESS INTEGRATION IF EXISTS e",
                Drop("EXTERNAL ACCESS INTEGRATION", N("E"), if_exists=True),
            ),
            ("DROP INTEGRATION IF EXISTS e", Drop("INTEGRATION", N("E"), if_exists=True)),
            ("DROP SECRET IF EXISTS s", Drop("SECRET", N("S"), if_exists=True)),
            ("DROP SERVICE IF EXISTS db.s.svc FORCE", Drop("SERVICE", N("DB", "S", "SVC"), True, True)),
            ("DROP IMAGE REPOSITORY IF EXISTS r", Drop("IMAGE REPOSITORY", N("R"), if_exists=True)),
            ("DROP USER IF EXISTS u", Drop("USER", N("U"), if_exists=True)),
            ("DROP ROLE IF EXISTS r", Drop("ROLE", N("R"), if_exists=True)),
        ]
    )


# ----------------------------------------------------------------------------------------- ALTER


def test_alter_service() -> None:
    milvus = N("MILVUS")
    check(
        [
            ("alter service milvus suspend", Alter("SERVICE", milvus, "SUSPEND")),
            ("alter service milvus resume", Alter("SERVICE", milvus, "RESUME")),
            (
                'alter service milvus from specification $$ {"spec": {}} $$',
                Alter("SERVICE", milvus, "FROM SPEC", spec=InlineSpec(' {"spec": {}} ')),
            ),
            (
                "alter service milvus set\nmin_instances = 2\nmax_instances = 2",
                Alter("SERVICE", milvus, "SET", properties={"MIN_INSTANCES": 2, "MAX_INSTANCES": 2}),
            ),
            ("alter service milvus unset comment", Alter("SERVICE", milvus, "UNSET", unset=("COMMENT",))),
            (
                "ALTER SERVICE IF EXISTS db.s.svc SUSPEND",
                Alter("SERVICE", N("DB", "S", "SVC"), "SUSPEND", if_exists=True),
            ),
            (
                "ALTER SERVICE svc FROM @stage SPECIFICATION_FILE = 'x.yaml'",
                Alter("SERVICE", N("SVC"), "FROM SPEC", spec=StageSpec(StageRef(N("STAGE")), "x.yaml")),
            ),
        ]
    )


def test_alter_compute_pool() -> None:
    pool = N("POOL1")
    check(
        [
            ("alter compute pool pool1 stop all", Alter("COMPUTE POOL", pool, "STOP ALL")),
            ("alter compute pool pool1 suspend", Alter("COMPUTE POOL", pool, "SUSPEND")),
            ("alter compute pool pool1 resume", Alter("COMPUTE POOL", pool, "RESUME")),
            (
                "alter compute pool pool1 set auto_suspend_secs = 60",
                Alter("COMPUTE POOL", pool, "SET", properties={"AUTO_SUSPEND_SECS": 60}),
            ),
        ]
    )


def test_alter_warehouse() -> None:
    check(
        [
            ("ALTER WAREHOUSE w SUSPEND", Alter("WAREHOUSE", N("W"), "SUSPEND")),
            ("ALTER WAREHOUSE w RESUME IF SUSPENDED", Alter("WAREHOUSE", N("W"), "RESUME")),
            (
                "ALTER WAREHOUSE w SET WAREHOUSE_SIZE = 'SMALL'",
                Alter("WAREHOUSE", N("W"), "SET", properties={"WAREHOUSE_SIZE": "SMALL"}),
            ),
        ]
    )


def test_alter_user() -> None:
    check(
        [
            (
                "ALTER USER u SET RSA_PUBLIC_KEY = 'MIIB...'",
                Alter("USER", N("U"), "SET", properties={"RSA_PUBLIC_KEY": "MIIB..."}),
            ),
            (
                "ALTER USER IF EXISTS u SET DEFAULT_ROLE = R",
                Alter("USER", N("U"), "SET", if_exists=True, properties={"DEFAULT_ROLE": Ident("R")}),
            ),
            (
                "ALTER USER u ADD PROGRAMMATIC ACCESS TOKEN tok1 ROLE_RESTRICTION = 'MILVUS_ROLE' "
                "DAYS_TO_EXPIRY = 1 COMMENT = 'x'",
                Alter(
                    "USER",
                    N("U"),
                    "ADD PAT",
                    token_name="TOK1",
                    properties={"ROLE_RESTRICTION": "MILVUS_ROLE", "DAYS_TO_EXPIRY": 1, "COMMENT": "x"},
                ),
            ),
            ("ALTER USER u ADD PAT tok1", Alter("USER", N("U"), "ADD PAT", token_name="TOK1")),
            (
                "ALTER USER u REMOVE PROGRAMMATIC ACCESS TOKEN tok1",
                Alter("USER", N("U"), "REMOVE PAT", token_name="TOK1"),
            ),
        ]
    )


def test_alter_session() -> None:
    check(
        [
            (
                "alter session set PYTHON_CONNECTOR_QUERY_RESULT_FORMAT = 'json'",
                AlterSession(properties={"PYTHON_CONNECTOR_QUERY_RESULT_FORMAT": "json"}),
            ),
            ("ALTER SESSION UNSET QUERY_TAG, TIMEZONE", AlterSession(unset=("QUERY_TAG", "TIMEZONE"))),
        ]
    )


# ------------------------------------------------------------------------------- PUT / LIST / REMOVE


def test_put() -> None:
    check(
        [
            (
                "PUT file:///tmp/specs/jupyter.yaml @yaml_stage overwrite=true auto_compress=false;",
                Put(
                    "/tmp/specs/jupyter.yaml",
                    StageRef(N("YAML_STAGE")),
                    {"OVERWRITE": True, "AUTO_COMPRESS": False},
                ),
            ),
            (
                "PUT 'file:///path with spaces/x.yaml' @db.s.stage/sub/dir AUTO_COMPRESS=FALSE",
                Put(
                    "/path with spaces/x.yaml",
                    StageRef(N("DB", "S", "STAGE"), "sub/dir"),
                    {"AUTO_COMPRESS": False},
                ),
            ),
            ("PUT file://relative/x.yaml @s", Put("relative/x.yaml", StageRef(N("S")))),
            (
                "PUT file:///tmp/*.yaml @s/specs PARALLEL = 4 SOURCE_COMPRESSION = NONE",
                Put(
                    "/tmp/*.yaml",
                    StageRef(N("S"), "specs"),
                    {"PARALLEL": 4, "SOURCE_COMPRESSION": Ident("NONE")},
                ),
            ),
        ]
    )


def test_list_and_remove() -> None:
    check(
        [
            ("LIST @yaml_stage", ListStage(StageRef(N("YAML_STAGE")))),
            (
                "LS @db.s.stage/specs/ PATTERN = '.*yaml'",
                ListStage(StageRef(N("DB", "S", "STAGE"), "specs/"), ".*yaml"),
            ),
            ("REMOVE @stage/milvus.yaml", RemoveStage(StageRef(N("STAGE"), "milvus.yaml"))),
            ("RM @s", RemoveStage(StageRef(N("S")))),
            ("rm @s pattern = 'x.*'", RemoveStage(StageRef(N("S")), "x.*")),
        ]
    )


# ------------------------------------------------------------------------------------ CALL / SELECT


def test_call() -> None:
    check(
        [
            (
                "CALL SYSTEM$GET_SERVICE_STATUS('milvus');",
                Call(FunctionCall("SYSTEM$GET_SERVICE_STATUS", ("milvus",))),
            ),
            (
                "CALL SYSTEM$GET_SERVICE_LOGS('milvus', '0', 'milvus', 10);",
                Call(FunctionCall("SYSTEM$GET_SERVICE_LOGS", ("milvus", "0", "milvus", 10))),
            ),
            (
                "call SYSTEM$GET_SERVICE_LOGS('milvus', '0', 'main', 500, False, '', False);",
                Call(FunctionCall("SYSTEM$GET_SERVICE_LOGS", ("milvus", "0", "main", 500, False, "", False))),
            ),
            (
                "call system$get_compute_pool_status('pool1')",
                Call(FunctionCall("SYSTEM$GET_COMPUTE_POOL_STATUS", ("pool1",))),
            ),
            ("call f()", Call(FunctionCall("F"))),
        ]
    )


def test_select() -> None:
    check(
        [
            (
                "select current_version()",
                Select((FunctionCall("CURRENT_VERSION"),), (None,), ("current_version()",)),
            ),
            (
                "select current_role(), current_user() as u",
                Select(
                    (FunctionCall("CURRENT_ROLE"), FunctionCall("CURRENT_USER")),
                    (None, "U"),
                    ("current_role()", "current_user()"),
                ),
            ),
            ("select 1", Select((1,), (None,), ("1",))),
            (
                "select SYSTEM$GET_SERVICE_STATUS('svc')",
                Select(
                    (FunctionCall("SYSTEM$GET_SERVICE_STATUS", ("svc",)),),
                    (None,),
                    ("SYSTEM$GET_SERVICE_STATUS('svc')",),
                ),
            ),
            (
                "select system$wait_for_services(300, 'a', 'b')",
                Select(
                    (FunctionCall("SYSTEM$WAIT_FOR_SERVICES", (300, "a", "b")),),
                    (None,),
                    ("system$wait_for_services(300, 'a', 'b')",),
                ),
            ),
            (
                "SELECT 'x' \"Mixed\", TRUE AS t, NULL",
                Select(("x", True, None), ("Mixed", "T", None), ("'x'", "TRUE", "NULL")),
            ),
        ]
    )


# ------------------------------------------------------------------------------------ transactions


def test_transactions() -> None:
    check(
        [
            ("BEGIN", Begin("BEGIN")),
            ("begin transaction", Begin("BEGIN")),
            ("START TRANSACTION", Begin("BEGIN")),
            ("COMMIT", Begin("COMMIT")),
            ("ROLLBACK;", Begin("ROLLBACK")),
        ]
    )


# ------------------------------------------------------------------------------------------ errors


def syntax_error_of(sql: str) -> SnowflakeError:
    with pytest.raises(SnowflakeError) as info:
        parse(sql)
    error = info.value
    assert (error.errno, error.sqlstate, error.code) == (1003, "42000", "001003")
    return error


def test_unknown_statement_is_a_syntax_error() -> None:
    error = syntax_error_of("EXPLAIN SELECT 1")
    assert error.message == "SQL compilation error:\nsyntax error line 1 at position 0 unexpected 'EXPLAIN'."


def test_garbage_is_a_syntax_error() -> None:
    assert "line 1 at position 0 unexpected '#'" in syntax_error_of("#!?").message
    assert "line 1 at position 5 unexpected 'SERVICESX'" in syntax_error_of("SHOW SERVICESX").message
    assert "line 2 at position 2 unexpected 'bogus'" in syntax_error_of("SHOW\n  bogus").message
    assert "unexpected '<EOF>'" in syntax_error_of("CREATE STAGE").message
    assert "unexpected '<EOF>'" in syntax_error_of("   ").message
    assert "unexpected ';'" in syntax_error_of(";").message
    assert "unexpected '.'" in syntax_error_of("DROP STAGE a.b.c.d").message
    assert "unexpected '<EOF>'" in syntax_error_of("SHOW SERVICES IN COMPUTE POOL").message


def test_two_statements_are_a_syntax_error() -> None:
    error = syntax_error_of("SHOW SERVICES; SHOW ROLES")
    assert error.message == "SQL compilation error:\nsyntax error line 1 at position 15 unexpected 'SHOW'."
    assert "unexpected ';'" in syntax_error_of("SHOW SERVICES;;").message


def test_bad_identifier_function_content_is_a_syntax_error() -> None:
    error = syntax_error_of("describe service IDENTIFIER('a b')")
    assert "line 1 at position 17 unexpected 'a b'" in error.message


# ----------------------------------------------------------------------------------- performance


def test_parsing_is_fast_once_built() -> None:
    sql = (
        "CREATE SERVICE milvus IN COMPUTE POOL pool1 FROM SPECIFICATION $$spec: {}$$ "
        "MIN_INSTANCES = 1 MAX_INSTANCES = 1 EXTERNAL_ACCESS_INTEGRATIONS = (a, b) COMMENT = 'x'"
    )
    parse(sql)
    start = time.perf_counter()
    for _ in range(50):
        parse(sql)
    assert (time.perf_counter() - start) / 50 < 0.005
