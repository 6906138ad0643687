"""Facts about Snowflake that the conformance catalogue records (issue 19 item 5), held here where one
observation alone would not catch a regression: who may list a user's tokens, the other forms of the
statements, every session rather than the one that dropped, the argument types an account casts."""

from __future__ import annotations

import json

import pytest
import snowflake.connector
from snowflake.connector.errors import ProgrammingError

from spcs_emulator.emulator import Emulator
from tests.emulator.guide import run_guide_setup
from tests.emulator.sql import connect, rows, wait_status


def error_of(cur: snowflake.connector.cursor.SnowflakeCursor, sql: str) -> ProgrammingError:
    with pytest.raises(ProgrammingError) as info:
        cur.execute(sql)
    return info.value


def test_another_users_tokens_are_listed_only_with_modify_on_that_user(emulator: Emulator, admin) -> None:
    """SHOW USER PATS FOR USER u (docs: show-user-programmatic-access-tokens): a user lists its own
    tokens with no privilege at all; another user's need MODIFY on that user. Never the secret."""
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE USERADMIN")
    admin.execute("CREATE USER OTHER_USER PASSWORD = 'otheruserok1' MUST_CHANGE_PASSWORD = FALSE")
    secret = rows(admin, "ALTER USER OTHER_USER ADD PAT other_pat COMMENT = 'for ci'")[0]["token_secret"]
    mine = rows(admin, "ALTER USER MILVUS_USER ADD PROGRAMMATIC ACCESS TOKEN mine")[0]["token_secret"]
    listed = rows(admin, "SHOW USER PATS FOR USER OTHER_USER")
    assert [(t["name"], t["user_name"], t["status"], t["comment"]) for t in listed] == [
        ("OTHER_PAT", "OTHER_USER", "ACTIVE", "for ci")
    ]
    assert listed[0]["created_by"] == "ADMIN"
    conn = connect(emulator, user="milvus_user", password="milvususerok")
    try:
        cur = conn.cursor()
        own = rows(cur, "SHOW USER PROGRAMMATIC ACCESS TOKENS")
        assert [t["name"] for t in own] == ["MINE"]
        assert mine not in json.dumps(own, default=str)
        refused = error_of(cur, "SHOW USER PATS FOR USER OTHER_USER")
        assert refused.errno == 2003, refused  # not even visible to a user without privileges on it
        assert secret not in str(refused)
    finally:
        conn.close()


def test_show_job_services_and_exclude_jobs_in_every_scope(emulator: Emulator, admin) -> None:
    """SHOW [JOB] SERVICES [EXCLUDE JOBS] (docs: show-services): the emulator runs no job services, so
    JOB SERVICES is empty and EXCLUDE JOBS lists what SHOW SERVICES lists, IN COMPUTE POOL and LIMIT
    included; EXCLUDE JOBS belongs to SERVICES only."""
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE SYSADMIN")
    wait_status(admin, "MILVUS", "RUNNING")
    every = [r["name"] for r in rows(admin, "SHOW SERVICES IN ACCOUNT")]
    assert sorted(every) == ["JUPYTER", "MILVUS"]
    assert [r["name"] for r in rows(admin, "SHOW SERVICES EXCLUDE JOBS IN ACCOUNT")] == every
    assert len(rows(admin, "SHOW SERVICES EXCLUDE JOBS IN ACCOUNT LIMIT 1")) == 1
    assert rows(admin, "SHOW JOB SERVICES IN ACCOUNT") == []
    in_pool = rows(admin, "SHOW SERVICES EXCLUDE JOBS IN COMPUTE POOL MILVUS_COMPUTE_POOL")
    assert [r["name"] for r in in_pool] == ["MILVUS"]
    assert rows(admin, "SHOW JOB SERVICES IN COMPUTE POOL MILVUS_COMPUTE_POOL") == []
    assert error_of(admin, "SHOW COMPUTE POOLS EXCLUDE JOBS").errno == 1003


def test_or_replace_with_if_not_exists_and_or_replace_compute_pool_are_refused(admin) -> None:
    """Snowflake refuses both OR REPLACE and IF NOT EXISTS (001004 0A000, feast-dev/feast#3589), and has
    no CREATE OR REPLACE COMPUTE POOL (docs: create-compute-pool): the existing pool stays as it was."""
    admin.execute("CREATE COMPUTE POOL KEPT MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS")
    both = error_of(admin, "CREATE OR REPLACE WAREHOUSE IF NOT EXISTS WH")
    assert (both.errno, both.sqlstate) == (1004, "0A000")
    assert "options IF NOT EXISTS and OR REPLACE are incompatible." in str(both)
    service = error_of(
        admin, "CREATE OR REPLACE SERVICE IF NOT EXISTS S IN COMPUTE POOL KEPT FROM SPECIFICATION $$x$$"
    )
    assert service.errno == 1004
    pool = error_of(
        admin, "CREATE OR REPLACE COMPUTE POOL KEPT MIN_NODES = 1 MAX_NODES = 2 INSTANCE_FAMILY = CPU_X64_S"
    )
    assert (pool.errno, pool.sqlstate) == (1003, "42000")
    assert "line 1 at position 18 unexpected 'COMPUTE'" in str(pool)
    kept = rows(admin, "SHOW COMPUTE POOLS LIKE 'KEPT'")[0]
    assert (kept["max_nodes"], kept["instance_family"]) == (1, "CPU_X64_XS")
    assert rows(admin, "SHOW WAREHOUSES LIKE 'WH'") == []


def test_dropping_the_current_database_schema_or_warehouse_leaves_no_session_in_it(
    emulator: Emulator, admin
) -> None:
    """After DROP, CURRENT_DATABASE()/CURRENT_SCHEMA()/CURRENT_WAREHOUSE() answer NULL in every session
    that used the object, and an unqualified CREATE has no schema to land in (090105) rather than
    re-creating objects under a dropped name."""
    admin.execute("CREATE DATABASE D1")
    admin.execute("CREATE WAREHOUSE W1")
    other = connect(emulator)
    try:
        cur = other.cursor()
        cur.execute("USE WAREHOUSE W1")
        cur.execute("USE SCHEMA D1.PUBLIC")
        admin.execute("CREATE SCHEMA D1.S2")  # the admin session's schema is now D1.S2
        admin.execute("DROP SCHEMA D1.S2")
        assert rows(admin, "SELECT CURRENT_DATABASE() AS d, CURRENT_SCHEMA() AS s")[0] == {
            "D": "D1",
            "S": None,
        }
        assert error_of(admin, "CREATE STAGE ST").errno == 90105
        admin.execute("DROP WAREHOUSE W1")
        admin.execute("DROP DATABASE D1")
        for session in (admin, cur):
            current = "SELECT CURRENT_DATABASE() AS d, CURRENT_SCHEMA() AS s, CURRENT_WAREHOUSE() AS w"
            assert rows(session, current)[0] == {"D": None, "S": None, "W": None}
        assert error_of(cur, "CREATE STAGE ST").errno == 90105
    finally:
        other.close()


def test_a_repository_that_needs_quoting_is_refused_wherever_the_quotes_are(admin) -> None:
    """An image repository URL is a lower-cased path: a database, schema or repository name that must be
    quoted is refused (SNOW-2070746), a quoted name that reads as unquoted is not."""
    admin.execute('CREATE DATABASE "lower_db"')
    admin.execute("CREATE DATABASE RDB")
    admin.execute('CREATE SCHEMA RDB."Mixed"')
    for name in ('RDB.PUBLIC."repo"', '"lower_db".PUBLIC.REPO', 'RDB."Mixed".REPO', 'RDB.PUBLIC."A-B"'):
        refused = error_of(admin, f"CREATE IMAGE REPOSITORY {name}")
        assert "db, schema and repo names for an image repo must be unquoted identifiers" in str(refused)
    admin.execute('CREATE IMAGE REPOSITORY RDB.PUBLIC."UPPER_REPO"')
    assert [r["name"] for r in rows(admin, "SHOW IMAGE REPOSITORIES IN SCHEMA RDB.PUBLIC")] == ["UPPER_REPO"]
    unset = error_of(admin, "ALTER IMAGE REPOSITORY RDB.PUBLIC.UPPER_REPO UNSET COMMENT")
    assert (unset.errno, unset.sqlstate) == (2, "0A000")


def test_unset_of_network_rule_values_and_integration_rules_shows_in_describe(admin) -> None:
    """UNSET VALUE_LIST empties a rule; UNSET ALLOWED_NETWORK_RULES, ENABLED leaves an integration with
    no rules and enabled (the Terraform provider's testint); DESCRIBE INTEGRATION says so too. Other
    required properties still cannot be unset."""
    admin.execute("CREATE DATABASE NDB")
    admin.execute("CREATE NETWORK RULE NDB.PUBLIC.R TYPE = HOST_PORT MODE = EGRESS VALUE_LIST = ('a.com')")
    admin.execute(
        "CREATE EXTERNAL ACCESS INTEGRATION EAI ALLOWED_NETWORK_RULES = (NDB.PUBLIC.R) ENABLED = FALSE"
    )
    described = {r["property"]: r for r in rows(admin, "DESCRIBE INTEGRATION EAI")}
    assert described["ALLOWED_NETWORK_RULES"]["property_value"] == "NDB.PUBLIC.R"
    assert described["ENABLED"]["property_value"] == "false"
    admin.execute("ALTER NETWORK RULE NDB.PUBLIC.R UNSET VALUE_LIST")
    assert rows(admin, "DESCRIBE NETWORK RULE NDB.PUBLIC.R")[0]["value_list"] == ""
    admin.execute("ALTER EXTERNAL ACCESS INTEGRATION EAI UNSET ALLOWED_NETWORK_RULES, ENABLED")
    described = {r["property"]: r for r in rows(admin, "DESCRIBE EXTERNAL ACCESS INTEGRATION EAI")}
    assert (described["ALLOWED_NETWORK_RULES"]["property_value"], described["ENABLED"]["property_value"]) == (
        "",
        "true",
    )
    admin.execute(
        "CREATE SECURITY INTEGRATION SI TYPE = OAUTH OAUTH_CLIENT = SNOWSERVICES_INGRESS ENABLED = TRUE"
    )
    assert error_of(admin, "DESCRIBE INTEGRATION SI").errno == 9999  # not emulated, never a 500
    assert error_of(admin, "ALTER SECURITY INTEGRATION SI UNSET OAUTH_CLIENT").errno == 2043


def test_service_logs_read_boolean_arguments_as_an_account_casts_them(emulator: Emulator, admin) -> None:
    """previous_logs and include_timestamps are BOOLEAN: the string 'false' is false, 'true' true."""
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE SYSADMIN")
    wait_status(admin, "MILVUS", "RUNNING")

    def logs(args: str) -> str:
        return str(
            rows(admin, f"CALL SYSTEM$GET_SERVICE_LOGS('milvus', '0', 'milvus', {args})")[0].popitem()[1]
        )

    assert logs("10, 'false'") == "current log of milvus"
    assert logs("10, 'TRUE'") == "previous log of milvus"
    assert logs("10, FALSE, '', 'true'").endswith("Z current log of milvus")
    assert error_of(admin, "CALL SYSTEM$GET_SERVICE_LOGS('milvus', '0', 'milvus', 10, 'maybe')").errno == 2043
