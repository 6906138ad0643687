"""Find runs by their label and remove them: `milvus-spcs down --run ID` and `janitor --older-than 6h`.

Every object of a run carries COMMENT = 'milvus-spcs run=<id> created=<iso8601>' (naming.label); the
janitor reads it back from SHOW output, so it finds runs whose process died without a teardown.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from milvus_spcs.naming import LABEL_PATTERN, StackNames, check_run_id
from milvus_spcs.paths import REPO_ROOT
from milvus_spcs.sqlfiles import load_sql_dir
from milvus_spcs.stack.sql_runner import SqlRunner

LABELLED = (
    ("SHOW COMPUTE POOLS", "compute pool"),
    ("SHOW SERVICES IN ACCOUNT", "service"),
    ("SHOW DATABASES", "database"),
    ("SHOW WAREHOUSES", "warehouse"),
    ("SHOW ROLES", "role"),
    ("SHOW USERS", "user"),
    ("SHOW INTEGRATIONS", "integration"),
)
DURATION = re.compile(r"(?P<n>\d+)(?P<unit>[smhd])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"duration {text!r} must look like 30m, 6h or 2d")
    return dt.timedelta(seconds=int(match["n"]) * UNITS[match["unit"]])


@dataclass
class RunObjects:
    run_id: str
    created: dt.datetime
    objects: list[str] = field(default_factory=list)


def find_runs(runner: SqlRunner) -> dict[str, RunObjects]:
    runs: dict[str, RunObjects] = {}
    for query, kind in LABELLED:
        for row in runner.query("USE ROLE ACCOUNTADMIN", query):
            match = LABEL_PATTERN.fullmatch(str(row.get("comment") or ""))
            if not match:
                continue
            created = dt.datetime.fromisoformat(match["created"].replace("Z", "+00:00"))
            run = runs.setdefault(match["run"], RunObjects(match["run"], created))
            run.created = min(run.created, created)
            run.objects.append(f"{kind} {row['name']}")
    return runs


def teardown_run(runner: SqlRunner, run_id: str) -> None:
    """The run's teardown file with the run's names: services, pools, integration, database, warehouse,
    user, role; everything IF EXISTS, so it is safe on half-built and already-removed stacks."""
    names = StackNames(check_run_id(run_id))
    teardown = load_sql_dir(REPO_ROOT / "sql")["90_teardown.sql"]
    runner.run(teardown.statements(names.variables()))


def sweep(runner: SqlRunner, older_than: dt.timedelta, *, now: dt.datetime | None = None) -> list[RunObjects]:
    now = now or dt.datetime.now(dt.UTC)
    stale = [run for run in find_runs(runner).values() if now - run.created >= older_than]
    for run in stale:
        teardown_run(runner, run.run_id)
    return stale
