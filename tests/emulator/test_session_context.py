"""CREATE DATABASE / SCHEMA / WAREHOUSE make the new object current, as on an account ("General usage
notes" of docs: sql-reference/sql/create-database, create-schema, create-warehouse), through the real
connector: an unqualified statement after a CREATE lands in the new object here as it would there."""

from __future__ import annotations

import pytest
from snowflake.connector.errors import ProgrammingError

from tests.emulator.sql import rows


def context(cur) -> tuple[str | None, str | None, str | None]:
    cur.execute("SELECT CURRENT_DATABASE(), CURRENT_SCHEMA(), CURRENT_WAREHOUSE()")
    database, schema, warehouse = cur.fetchone()
    return database, schema, warehouse


def test_create_database_schema_and_warehouse_each_become_current(admin) -> None:
    admin.execute("CREATE DATABASE D1")
    admin.execute("CREATE WAREHOUSE W1 WAREHOUSE_SIZE = XSMALL")
    assert context(admin) == ("D1", "PUBLIC", "W1")
    admin.execute("CREATE DATABASE D2")  # another database is current already: D2 takes its place
    assert context(admin) == ("D2", "PUBLIC", "W1")
    admin.execute("CREATE SCHEMA D1.S1")  # qualified in another database: both switch
    assert context(admin) == ("D1", "S1", "W1")
    admin.execute("CREATE WAREHOUSE W2")
    assert context(admin) == ("D1", "S1", "W2")
    # What the connector keeps of the session follows too.
    assert (admin.connection.database, admin.connection.schema, admin.connection.warehouse) == (
        "D1",
        "S1",
        "W2",
    )


def test_an_unqualified_stage_after_create_schema_lands_in_the_new_schema(admin) -> None:
    admin.execute("CREATE DATABASE D")
    admin.execute("CREATE SCHEMA S")
    admin.execute("CREATE STAGE ST")
    stages = rows(admin, "SHOW STAGES IN ACCOUNT")
    assert [(s["database_name"], s["schema_name"], s["name"]) for s in stages] == [("D", "S", "ST")]


def test_or_replace_makes_the_replacement_current(admin) -> None:
    admin.execute("CREATE DATABASE D1")
    admin.execute("CREATE SCHEMA S1")
    admin.execute("CREATE WAREHOUSE W1")
    admin.execute("CREATE DATABASE D2")
    admin.execute("CREATE WAREHOUSE W2")
    admin.execute("CREATE OR REPLACE WAREHOUSE W1")
    admin.execute("CREATE OR REPLACE SCHEMA D1.S1")
    assert context(admin) == ("D1", "S1", "W1")
    admin.execute("CREATE OR REPLACE DATABASE D2")
    assert context(admin) == ("D2", "PUBLIC", "W1")


def test_if_not_exists_of_an_existing_object_leaves_the_session_as_it_was(admin) -> None:
    """Nothing is created, so nothing becomes current (the emulator's reading of the docs, which tie the
    switch to creating the object); a new object under IF NOT EXISTS does become current."""
    admin.execute("CREATE DATABASE D1")
    admin.execute("CREATE SCHEMA S1")
    admin.execute("CREATE WAREHOUSE W1")
    admin.execute("CREATE DATABASE D2")
    admin.execute("CREATE WAREHOUSE W2")
    admin.execute("CREATE DATABASE IF NOT EXISTS D1")
    admin.execute("CREATE SCHEMA IF NOT EXISTS D1.S1")
    admin.execute("CREATE WAREHOUSE IF NOT EXISTS W1")
    assert context(admin) == ("D2", "PUBLIC", "W2")
    admin.execute("CREATE SCHEMA IF NOT EXISTS D1.S3")
    admin.execute("CREATE WAREHOUSE IF NOT EXISTS W3")
    assert context(admin) == ("D1", "S3", "W3")


def test_a_failed_create_changes_nothing(admin) -> None:
    admin.execute("CREATE DATABASE D1")
    admin.execute("CREATE WAREHOUSE W1")
    before = context(admin)
    for sql in ("CREATE WAREHOUSE W2 WAREHOUSE_SIZE = HUGE", "CREATE SCHEMA NOPE.S"):
        with pytest.raises(ProgrammingError):
            admin.execute(sql)
    assert context(admin) == before
