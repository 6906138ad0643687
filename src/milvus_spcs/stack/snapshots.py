"""The backup snapshots SPCS takes of a block volume when it deletes it, and their removal.

Since the 2026_01 bundle (BCR-2206), `DROP SERVICE ... FORCE` and `ALTER COMPUTE POOL ... STOP ALL`
snapshot every block volume whose spec does not say `blockConfig.snapshotOnDelete: false`, name it
``SYS_BACKUP_ON_DELETE<string>_<timestamp>``, keep it 7 days and bill it. The harness's own spec opts
out (specs/milvus.yaml); where a backup exists anyway (a user's spec without the opt-out), teardown and
the janitor drop the ones of the run's services, which SHOW SNAPSHOTS names in its service_name column.
"""

from __future__ import annotations

from collections.abc import Iterable

from snowflake.connector.errors import ProgrammingError

from milvus_spcs.stack.sql_runner import SqlRunner

BACKUP_PREFIX = "SYS_BACKUP_ON_DELETE"
DOES_NOT_EXIST = 2003  # the run's schema is already gone (a half-built or removed stack)


def backup_snapshots(runner: SqlRunner, role: str, schema: str, services: Iterable[str]) -> list[str]:
    """Names of the backup snapshots in ``schema`` (DATABASE.SCHEMA) taken of any of ``services``
    (fully qualified names)."""
    wanted = {service.upper() for service in services}
    try:
        results = runner.run(
            [f"USE ROLE {role}", f"SHOW SNAPSHOTS LIKE '{BACKUP_PREFIX}%' IN SCHEMA {schema}"]
        )
    except ProgrammingError as exc:
        if exc.errno == DOES_NOT_EXIST:
            return []
        raise
    return [
        str(row["name"])
        for row in results[-1]
        if str(row.get("service_name", "")).upper() in wanted and str(row["name"]).startswith(BACKUP_PREFIX)
    ]


def drop_backup_snapshots(runner: SqlRunner, role: str, schema: str, services: Iterable[str]) -> list[str]:
    """Drop the backups of ``services`` in ``schema``; returns the names dropped."""
    names = backup_snapshots(runner, role, schema, services)
    if names:
        runner.run([f"USE ROLE {role}", *(f'DROP SNAPSHOT IF EXISTS {schema}."{name}"' for name in names)])
    return names
