"""CREATE OR REPLACE checks the whole statement before the object it replaces goes ("CREATE OR REPLACE
<object> statements are atomic", docs: sql-reference/sql/create-schema, create-warehouse): a refused
one leaves the old object, its contents and its grants as they were. Through the real connector."""

from __future__ import annotations

from pathlib import Path

import pytest
from snowflake.connector.errors import ProgrammingError

from tests.emulator.sql import rows

SETUP = [
    "CREATE DATABASE D",
    "CREATE NETWORK RULE D.PUBLIC.R MODE = EGRESS TYPE = HOST_PORT VALUE_LIST = ('example.com')",
    "CREATE EXTERNAL ACCESS INTEGRATION EAI ALLOWED_NETWORK_RULES = (D.PUBLIC.R) ENABLED = TRUE",
    "CREATE SECRET D.PUBLIC.SEC TYPE = GENERIC_STRING SECRET_STRING = 'kept'",
    "CREATE STAGE D.PUBLIC.ST",
    "CREATE WAREHOUSE W WAREHOUSE_SIZE = SMALL COMMENT = 'old'",
]

# kind, the refused replacement, the listing that must still show the old object
REFUSED = [
    (
        "stage",
        "CREATE OR REPLACE STAGE D.PUBLIC.ST ENCRYPTION = (TYPE = 'NO_SUCH_TYPE')",
        "SHOW STAGES IN SCHEMA D.PUBLIC",
    ),
    ("warehouse", "CREATE OR REPLACE WAREHOUSE W WAREHOUSE_SIZE = HUGE", "SHOW WAREHOUSES LIKE 'W'"),
    (
        "warehouse type",
        "CREATE OR REPLACE WAREHOUSE W WAREHOUSE_TYPE = 'QUANTUM'",
        "SHOW WAREHOUSES LIKE 'W'",
    ),
    (
        "secret",
        "CREATE OR REPLACE SECRET D.PUBLIC.SEC TYPE = PASSWORD USERNAME = 'u'",  # no PASSWORD
        "SHOW SECRETS IN SCHEMA D.PUBLIC",
    ),
    (
        "network rule",
        "CREATE OR REPLACE NETWORK RULE D.PUBLIC.R MODE = SIDEWAYS TYPE = HOST_PORT VALUE_LIST = ('x')",
        "SHOW NETWORK RULES IN SCHEMA D.PUBLIC",
    ),
    (
        "external access integration",
        "CREATE OR REPLACE EXTERNAL ACCESS INTEGRATION EAI ALLOWED_NETWORK_RULES = (D.PUBLIC.MISSING) "
        "ENABLED = TRUE",
        "SHOW EXTERNAL ACCESS INTEGRATIONS",
    ),
    (
        "database",
        "CREATE OR REPLACE DATABASE D DATA_RETENTION_TIME_IN_DAYS = 'forever'",
        "SHOW DATABASES LIKE 'D'",
    ),
    ("database", "CREATE OR REPLACE DATABASE D DATA_RETENTION_TIME_IN_DAYS = 91", "SHOW DATABASES LIKE 'D'"),
]


@pytest.mark.parametrize(
    ("kind", "replace", "listing"), REFUSED, ids=[f"{r[0]}-{i}" for i, r in enumerate(REFUSED)]
)
def test_a_refused_create_or_replace_keeps_the_old_object(
    admin, tmp_path: Path, kind: str, replace: str, listing: str
) -> None:
    for sql in SETUP:
        admin.execute(sql)
    admin.execute("GRANT USAGE ON WAREHOUSE W TO ROLE SYSADMIN")
    admin.execute("GRANT USAGE ON INTEGRATION EAI TO ROLE SYSADMIN")
    kept = tmp_path / "kept.txt"
    kept.write_text("the stage's file")
    admin.execute(f"PUT file://{kept} @D.PUBLIC.ST auto_compress=false")
    before = rows(admin, listing)
    grants = rows(admin, "SHOW GRANTS TO ROLE SYSADMIN")
    assert before

    with pytest.raises(ProgrammingError) as refused:
        admin.execute(replace)
    assert refused.value.errno in (1008, 2003, 2043, 2002), refused.value.msg

    assert rows(admin, listing) == before  # the same object: same created_on, comment, properties
    assert rows(admin, "SHOW GRANTS TO ROLE SYSADMIN") == grants
    assert [r["name"] for r in rows(admin, "LIST @D.PUBLIC.ST")] == ["st/kept.txt"]
    assert [r["name"] for r in rows(admin, "SHOW SECRETS IN SCHEMA D.PUBLIC")] == ["SEC"]


def test_a_valid_create_or_replace_still_replaces(admin) -> None:
    for sql in SETUP:
        admin.execute(sql)
    admin.execute("CREATE OR REPLACE WAREHOUSE W WAREHOUSE_SIZE = MEDIUM")
    (warehouse,) = rows(admin, "SHOW WAREHOUSES LIKE 'W'")
    assert (warehouse["size"], warehouse["comment"]) == ("Medium", "")
    admin.execute("CREATE OR REPLACE STAGE D.PUBLIC.ST")
    assert rows(admin, "LIST @D.PUBLIC.ST") == []
