"""What a run left on an account, listed independently of the janitor (whose listing is under test)."""

from __future__ import annotations

from milvus_spcs.stack.sql_runner import SqlRunner

LEFTOVER_QUERIES = (
    "SHOW COMPUTE POOLS",
    "SHOW SERVICES IN ACCOUNT",
    "SHOW ROLES",
    "SHOW USERS",
    "SHOW DATABASES",
    "SHOW WAREHOUSES",
    "SHOW INTEGRATIONS",
)


def objects_of_run(runner: SqlRunner, run_id: str) -> list[str]:
    """Every object named after the run or labelled with it, as 'QUERY: name'."""
    found = []
    for query in LEFTOVER_QUERIES:
        for row in runner.query("USE ROLE ACCOUNTADMIN", query):
            named = run_id.upper() in str(row.get("name", "")).upper()
            labelled = f"run={run_id}" in str(row.get("comment") or "")
            if named or labelled:
                found.append(f"{query}: {row['name']}")
    return found
