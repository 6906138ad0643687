"""Grants of the run's role and user: exactly the expected set; a missing or an extra grant fails."""

from __future__ import annotations

import pytest

from milvus_spcs.checks import grant_differences
from milvus_spcs.stack.spcs_plan import StackState
from milvus_spcs.stack.sql_runner import SqlRunner

pytestmark = pytest.mark.spcs

# (privilege, granted_on, name) with the run's names as {placeholders}: written out, not derived from
# sql/, so that a change there that drops or adds a privilege turns this red.
EXPECTED_TO_ROLE = [
    ("USAGE", "WAREHOUSE", "{warehouse}"),
    ("USAGE", "DATABASE", "{database}"),
    ("USAGE", "SCHEMA", "{database}.{schema}"),
    ("READ", "IMAGE_REPOSITORY", "{database}.{schema}.{repository}"),
    ("READ", "STAGE", "{database}.{schema}.{specs_stage}"),
    ("READ", "STAGE", "{database}.{schema}.{files_stage}"),
    ("WRITE", "STAGE", "{database}.{schema}.{files_stage}"),
    ("USAGE", "SERVICE", "{database}.{schema}.{jupyter_service}"),
    ("USAGE", "SERVICE_ROLE", "{database}.{schema}.{jupyter_service}!ALL_ENDPOINTS_USAGE"),
]
EXPECTED_OF_ROLE = [("USER", "{user}"), ("ROLE", "SYSADMIN")]


def expand(entry: tuple[str, ...], stack: StackState) -> tuple[str, ...]:
    return tuple(part.format(**stack.names.variables()) for part in entry)


@pytest.fixture(scope="module")
def grants_to_role(spcs_sql: SqlRunner, spcs_stack: StackState) -> set[tuple[str, ...]]:
    rows = spcs_sql.query("USE ROLE SECURITYADMIN", f"SHOW GRANTS TO ROLE {spcs_stack.names.role}")
    return {(r["privilege"], r["granted_on"], r["name"]) for r in rows}


@pytest.mark.parametrize("grant", EXPECTED_TO_ROLE, ids=lambda g: f"{g[0]}-{g[1]}-{g[2].strip('{}')}")
def test_role_holds(grant: tuple[str, ...], grants_to_role, spcs_stack: StackState) -> None:
    assert expand(grant, spcs_stack) in grants_to_role


def test_role_holds_nothing_else(grants_to_role, spcs_stack: StackState) -> None:
    expected = {expand(g, spcs_stack) for g in EXPECTED_TO_ROLE}
    assert grant_differences(expected, grants_to_role) == []


def test_role_is_granted_to_the_user_and_sysadmin_only(spcs_sql: SqlRunner, spcs_stack: StackState) -> None:
    rows = spcs_sql.query("USE ROLE SECURITYADMIN", f"SHOW GRANTS OF ROLE {spcs_stack.names.role}")
    actual = {(r["granted_to"], r["grantee_name"]) for r in rows}
    assert grant_differences({expand(g, spcs_stack) for g in EXPECTED_OF_ROLE}, actual) == []


def test_user_has_exactly_the_run_role(spcs_sql: SqlRunner, spcs_stack: StackState) -> None:
    rows = spcs_sql.query("USE ROLE SECURITYADMIN", f"SHOW GRANTS TO USER {spcs_stack.names.user}")
    assert {r["name"] for r in rows} == {spcs_stack.names.role}
