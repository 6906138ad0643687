"""Golden test of what the emulator answers: one fixed script builds a small account, then every SHOW,
DESCRIBE, SYSTEM$ function and a set of refusals is recorded (columns with their types, rows, or the
error's code, SQLSTATE and message) and compared with tests/emulator/golden/show_output.json.

It is the safety net of refactorings that must not change behaviour. Volatile values (timestamps,
ports, IPs, the random DNS id, digests, uuids) are replaced by placeholders so that the record is the
same on every run. When a change of output is intended, regenerate the file and review its diff:

    SPCS_GOLDEN_UPDATE=1 python -m pytest tests/emulator/test_show_golden.py
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import snowflake.connector
from snowflake.connector.constants import FIELD_ID_TO_NAME
from snowflake.connector.errors import Error

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.lifecycle import ENDPOINT_PROVISIONING_TEXT
from tests.emulator.images import publish
from tests.emulator.sql import rows, wait_status

GOLDEN = Path(__file__).parent / "golden" / "show_output.json"
UPDATE = os.environ.get("SPCS_GOLDEN_UPDATE") == "1"

IMAGE = "/app_db/app_schema/app_repo/web:1"
SPEC = f"""
spec:
  containers:
  - name: web
    image: {IMAGE}
    env:
      MODE: golden
    secrets:
    - snowflakeSecret: APP_DB.APP_SCHEMA.APP_CREDS
      secretKeyRef: password
      envVarName: APP_PASSWORD
  endpoints:
  - name: ui
    port: 8888
    public: true
  - name: api
    port: 9000
    protocol: TCP
serviceRoles:
- name: UI_USERS
  endpoints:
  - ui
"""


WORKER_SPEC = f"""
spec:
  containers:
  - name: worker
    image: {IMAGE}
"""


@dataclass(frozen=True)
class Step:
    """One statement, run by ``who`` ("admin" or "user"); PUBLISH and WAIT <status> are actions of
    the test, and {spec_dir} stands for the run's directory of spec files (recorded as written)."""

    who: str
    sql: str


def as_admin(*sqls: str) -> list[Step]:
    return [Step("admin", s) for s in sqls]


def as_user(*sqls: str) -> list[Step]:
    return [Step("user", s) for s in sqls]


BUILD = as_admin(
    "USE ROLE ACCOUNTADMIN",
    "CREATE SECURITY INTEGRATION SNOWSERVICES_INGRESS_OAUTH TYPE = OAUTH "
    "OAUTH_CLIENT = SNOWSERVICES_INGRESS ENABLED = TRUE",
    "GRANT BIND SERVICE ENDPOINT ON ACCOUNT TO ROLE SYSADMIN",
    "USE ROLE SECURITYADMIN",
    "CREATE ROLE APP_ROLE",
    "CREATE ROLE VIEWER_ROLE COMMENT = 'reads only'",
    "GRANT ROLE VIEWER_ROLE TO ROLE APP_ROLE",
    "USE ROLE USERADMIN",
    "CREATE USER APP_USER PASSWORD = 'app-password-1' DEFAULT_ROLE = APP_ROLE MUST_CHANGE_PASSWORD = FALSE",
    "USE ROLE SECURITYADMIN",
    "GRANT ROLE APP_ROLE TO USER APP_USER",
    "USE ROLE SYSADMIN",
    "CREATE WAREHOUSE APP_WH WITH WAREHOUSE_SIZE = 'X-SMALL' AUTO_SUSPEND = 180 AUTO_RESUME = TRUE "
    "INITIALLY_SUSPENDED = TRUE",
    "CREATE DATABASE APP_DB",
    "USE DATABASE APP_DB",
    "CREATE SCHEMA APP_SCHEMA",
    "USE SCHEMA APP_SCHEMA",
    "CREATE STAGE SPECS",
    "CREATE STAGE FILES ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE')",
    "CREATE IMAGE REPOSITORY APP_REPO",
    "PUBLISH",
    "PUT file://{spec_dir}/worker.yaml @SPECS overwrite = true auto_compress = false",
    "USE ROLE ACCOUNTADMIN",
    "USE SCHEMA APP_DB.APP_SCHEMA",
    "CREATE SECRET APP_CREDS TYPE = PASSWORD USERNAME = 'svc' PASSWORD = 'hunter2'",
    "GRANT READ ON SECRET APP_DB.APP_SCHEMA.APP_CREDS TO ROLE SYSADMIN",
    "CREATE NETWORK RULE EGRESS_RULE TYPE = 'HOST_PORT' MODE = 'EGRESS' "
    "VALUE_LIST = ('example.com:443', 'example.org')",
    "CREATE EXTERNAL ACCESS INTEGRATION APP_EAI ALLOWED_NETWORK_RULES = (APP_DB.APP_SCHEMA.EGRESS_RULE) "
    "ENABLED = TRUE",
    "GRANT USAGE ON INTEGRATION APP_EAI TO ROLE SYSADMIN",
    "USE ROLE SYSADMIN",
    "CREATE COMPUTE POOL APP_POOL MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS "
    "AUTO_RESUME = TRUE",
    f"CREATE SERVICE APP_SVC IN COMPUTE POOL APP_POOL FROM SPECIFICATION $${SPEC}$$ "
    "EXTERNAL_ACCESS_INTEGRATIONS = (APP_EAI) MIN_INSTANCES = 1 MAX_INSTANCES = 1",
    "CREATE SERVICE WORKER_SVC IN COMPUTE POOL APP_POOL FROM @SPECS SPEC = 'worker.yaml' "
    "COMMENT = 'from a stage'",
    "WAIT RUNNING",
    "USE ROLE SECURITYADMIN",
    "GRANT USAGE ON DATABASE APP_DB TO ROLE APP_ROLE",
    "GRANT USAGE ON SCHEMA APP_DB.APP_SCHEMA TO ROLE APP_ROLE",
    "GRANT USAGE ON WAREHOUSE APP_WH TO ROLE APP_ROLE",
    "GRANT READ ON STAGE APP_DB.APP_SCHEMA.FILES TO ROLE APP_ROLE",
    "GRANT MONITOR ON COMPUTE POOL APP_POOL TO ROLE VIEWER_ROLE",
    "GRANT SERVICE ROLE APP_DB.APP_SCHEMA.APP_SVC!UI_USERS TO ROLE APP_ROLE",
    "USE ROLE ACCOUNTADMIN",
    "USE SCHEMA APP_DB.APP_SCHEMA",
)

SHOWS = as_admin(
    "SHOW ROLES",
    "SHOW ROLES LIKE 'APP%'",
    "SHOW ROLES STARTS WITH 'SYS'",
    "SHOW ROLES LIMIT 2",
    "SHOW USERS",
    "SHOW WAREHOUSES",
    "SHOW DATABASES",
    "SHOW TERSE DATABASES",
    "SHOW SCHEMAS",
    "SHOW SCHEMAS IN DATABASE APP_DB",
    "SHOW STAGES",
    "SHOW IMAGE REPOSITORIES",
    "SHOW IMAGE REPOSITORIES IN ACCOUNT",
    "SHOW IMAGES IN IMAGE REPOSITORY APP_REPO",
    "LIST @SPECS",
    "LIST @FILES",
    "SHOW SECRETS",
    "SHOW NETWORK RULES",
    "SHOW INTEGRATIONS",
    "SHOW EXTERNAL ACCESS INTEGRATIONS",
    "SHOW SECURITY INTEGRATIONS",
    "SHOW COMPUTE POOLS",
    "SHOW SERVICES",
    "SHOW SERVICES IN COMPUTE POOL APP_POOL",
    "SHOW SERVICES LIKE 'NOPE%'",
    "SHOW ENDPOINTS IN SERVICE APP_SVC",
    "SHOW SERVICE CONTAINERS IN SERVICE APP_SVC",
    "SHOW SERVICE INSTANCES IN SERVICE APP_SVC",
    "SHOW ROLES IN SERVICE APP_SVC",
    "SHOW ENDPOINTS IN SERVICE WORKER_SVC",
    "SHOW ROLES IN SERVICE WORKER_SVC",
    "DESCRIBE SERVICE WORKER_SVC",
    "SHOW GRANTS",
    "SHOW GRANTS ON ACCOUNT",
    "SHOW GRANTS TO ROLE APP_ROLE",
    "SHOW GRANTS TO ROLE VIEWER_ROLE",
    "SHOW GRANTS TO ROLE SYSADMIN",
    "SHOW GRANTS OF ROLE APP_ROLE",
    "SHOW GRANTS OF ROLE VIEWER_ROLE",
    "SHOW GRANTS TO USER APP_USER",
    "SHOW GRANTS ON DATABASE APP_DB",
    "SHOW GRANTS ON SCHEMA APP_DB.APP_SCHEMA",
    "SHOW GRANTS ON WAREHOUSE APP_WH",
    "SHOW GRANTS ON STAGE FILES",
    "SHOW GRANTS ON SECRET APP_CREDS",
    "SHOW GRANTS ON INTEGRATION APP_EAI",
    "SHOW GRANTS ON COMPUTE POOL APP_POOL",
    "SHOW GRANTS ON SERVICE APP_SVC",
    "SHOW GRANTS TO SERVICE ROLE APP_DB.APP_SCHEMA.APP_SVC!UI_USERS",
    "SHOW GRANTS OF SERVICE ROLE APP_DB.APP_SCHEMA.APP_SVC!UI_USERS",
    "SHOW GRANTS TO SERVICE ROLE APP_DB.APP_SCHEMA.APP_SVC!ALL_ENDPOINTS_USAGE",
    "DESCRIBE ROLE APP_ROLE",
    "DESCRIBE USER APP_USER",
    "DESCRIBE WAREHOUSE APP_WH",
    "DESCRIBE DATABASE APP_DB",
    "DESCRIBE SCHEMA APP_DB.APP_SCHEMA",
    "DESCRIBE STAGE FILES",
    "DESCRIBE IMAGE REPOSITORY APP_REPO",
    "DESCRIBE SECRET APP_CREDS",
    "DESCRIBE NETWORK RULE EGRESS_RULE",
    "DESCRIBE INTEGRATION APP_EAI",
    "DESCRIBE EXTERNAL ACCESS INTEGRATION APP_EAI",
    "DESCRIBE SECURITY INTEGRATION SNOWSERVICES_INGRESS_OAUTH",
    "DESCRIBE COMPUTE POOL APP_POOL",
    "DESCRIBE SERVICE APP_SVC",
    "CALL SYSTEM$GET_SERVICE_STATUS('APP_SVC')",
    "CALL SYSTEM$GET_SERVICE_LOGS('APP_SVC', '0', 'web', 10)",
    "SELECT SYSTEM$GET_SERVICE_LOGS('APP_SVC', '0', 'web')",
    "CALL SYSTEM$GET_COMPUTE_POOL_STATUS('APP_POOL')",
    "CALL SYSTEM$GET_SERVICE_DNS_DOMAIN('APP_DB.APP_SCHEMA')",
    "CALL SYSTEM$REGISTRY_LIST_IMAGES('/app_db/app_schema/app_repo')",
    "SELECT CURRENT_ROLE(), CURRENT_USER(), CURRENT_DATABASE(), CURRENT_SCHEMA(), CURRENT_VERSION()",
)

REFUSALS = [
    *as_admin(
        "SHOW SERVICES IN COMPUTE POOL NO_POOL",
        "DESCRIBE SERVICE NO_SVC",
        "DESCRIBE DATABASE NO_DB",
        "SHOW ENDPOINTS IN SERVICE NO_SVC",
        "SHOW GRANTS TO ROLE NO_ROLE",
        "SHOW GRANTS TO SERVICE ROLE APP_DB.APP_SCHEMA.APP_SVC!NO_SUCH_ROLE",
        "CALL SYSTEM$GET_SERVICE_LOGS('APP_SVC')",
        "CALL SYSTEM$GET_SERVICE_LOGS('APP_SVC', '7', 'web')",
        "CALL SYSTEM$GET_SERVICE_STATUS('NO_SVC')",
        "CREATE DATABASE APP_DB",
        "CREATE OR REPLACE SERVICE APP_SVC IN COMPUTE POOL APP_POOL FROM SPECIFICATION $$x$$",
        "CREATE SERVICE BAD_SVC IN COMPUTE POOL APP_POOL FROM SPECIFICATION $$spec: {}$$",
        "SHOW PARAMETERS LIKE 'event_table' IN ACCOUNT",
        "SELEKT 1",
        "USE ROLE SYSADMIN",
        "DROP COMPUTE POOL APP_POOL",
        "USE ROLE ACCOUNTADMIN",
    ),
    *as_user(
        "SELECT CURRENT_ROLE(), CURRENT_USER()",
        "SHOW ROLES",
        "SHOW DATABASES",
        "SHOW SERVICES IN ACCOUNT",
        "SHOW COMPUTE POOLS",
        "SHOW ENDPOINTS IN SERVICE APP_DB.APP_SCHEMA.APP_SVC",
        "SHOW GRANTS TO ROLE APP_ROLE",
        "DESCRIBE SERVICE APP_DB.APP_SCHEMA.APP_SVC",
        "DROP SERVICE APP_DB.APP_SCHEMA.APP_SVC",
        "CREATE COMPUTE POOL P MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS",
        "CREATE DATABASE USER_DB",
        "DROP DATABASE APP_DB",
        "ALTER COMPUTE POOL APP_POOL SUSPEND",
        "SHOW GRANTS ON DATABASE APP_DB",
        "CALL SYSTEM$GET_COMPUTE_POOL_STATUS('APP_POOL')",
        "USE ROLE SYSADMIN",
        "DESCRIBE SECRET APP_DB.APP_SCHEMA.APP_CREDS",
        "CALL SYSTEM$GET_SERVICE_STATUS('APP_DB.APP_SCHEMA.APP_SVC')",
    ),
    *as_admin(
        "ALTER SERVICE WORKER_SVC SUSPEND",
        "WAIT SUSPENDED",
        "SHOW SERVICES LIKE 'WORKER%'",
        "SHOW SERVICE INSTANCES IN SERVICE WORKER_SVC",
        "CALL SYSTEM$GET_SERVICE_STATUS('WORKER_SVC')",
        "ALTER SERVICE WORKER_SVC RESUME",
        "WAIT RUNNING",
        "SHOW SERVICES LIKE 'WORKER%'",
        "DROP SERVICE WORKER_SVC",
        "SHOW SERVICES",
        "DROP DATABASE APP_DB CASCADE",
        "SHOW SERVICES",
        "SHOW SERVICES IN ACCOUNT",
        "SHOW DATABASES",
        "SHOW COMPUTE POOLS",
        "DESCRIBE SERVICE APP_DB.APP_SCHEMA.APP_SVC",
        "SHOW GRANTS TO ROLE APP_ROLE",
        "DROP COMPUTE POOL APP_POOL",
        "SHOW COMPUTE POOLS",
    ),
]

SCRIPT = [*BUILD, *SHOWS, *REFUSALS]

# Values that differ between runs, most specific first: (pattern, placeholder).
VOLATILE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    (re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT"), "<ts>"),  # LIST's
    (re.compile(r"(?:127\.0\.0\.1|localhost):\d+"), "<host:port>"),
    (re.compile(r"\b(\d{1,3}\.){3}\d{1,3}\b"), "<ip>"),
    (re.compile(r"\.[a-z0-9]{4}\.svc\.spcs\.internal"), ".<dns-id>.svc.spcs.internal"),
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<digest>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<digest>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
]


def normalise(value: Any, known: dict[str, str]) -> Any:
    """A JSON value with no run-dependent part; ``known`` maps values this run drew (the schema's
    random DNS id) to their placeholders."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return "<ts>"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str):
        if value in known:  # whole values only: a short random id could also be part of a word
            return known[value]
        for pattern, placeholder in VOLATILE:
            value = pattern.sub(placeholder, value)
        return value
    return value


def record(cur: Any, sql: str, known: dict[str, str]) -> dict[str, Any]:
    """What ``sql`` answers: its columns and rows, or the refusal."""
    entry: dict[str, Any] = {"sql": sql}
    try:
        cur.execute(sql)
    except Error as exc:
        entry["error"] = {"errno": exc.errno, "sqlstate": exc.sqlstate, "msg": normalise(exc.msg, known)}
        return entry
    entry["columns"] = [
        f"{d.name} {FIELD_ID_TO_NAME[d.type_code]}{'' if d.is_nullable else ' NOT NULL'}"
        for d in cur.description
    ]
    entry["rows"] = [[normalise(v, known) for v in row] for row in cur.fetchall()]
    return entry


def wait_until_served(cur: Any) -> dict[str, str]:
    """Both services run and APP_SVC's public endpoint has an ingress URL, so SHOW is past every
    transition; returns the schema's DNS id, drawn at random, as a value to normalise."""
    for service in ("APP_SVC", "WORKER_SVC"):
        wait_status(cur, f"APP_DB.APP_SCHEMA.{service}", "RUNNING")

    def ingress_ready() -> Probe[str]:
        endpoints = {r["name"]: r for r in rows(cur, "SHOW ENDPOINTS IN SERVICE APP_DB.APP_SCHEMA.APP_SVC")}
        url = endpoints["ui"]["ingress_url"]
        return Probe(url != ENDPOINT_PROVISIONING_TEXT, state=url)

    wait_for(ingress_ready, what="the ingress URL of APP_SVC", timeout=10, interval=0.05)
    dns_id = rows(cur, "CALL SYSTEM$GET_SERVICE_DNS_DOMAIN('APP_DB.APP_SCHEMA')")[0]
    return {str(next(iter(dns_id.values()))): "<dns-id>"}


def run_script(emu: Emulator, admin_cursor: Any, spec_dir: Path) -> list[dict[str, Any]]:
    cursors = {"admin": admin_cursor}
    user_conn = None
    out: list[dict[str, Any]] = []
    known: dict[str, str] = {}
    try:
        for step in SCRIPT:
            if step.sql == "PUBLISH":
                repo = rows(admin_cursor, "SHOW IMAGE REPOSITORIES LIKE 'APP_REPO'")[0]["repository_url"]
                publish(emu, f"{repo}/web:1", "jupyter")
                continue
            if step.sql == "WAIT RUNNING":
                known = wait_until_served(admin_cursor)
                continue
            if step.sql == "WAIT SUSPENDED":
                wait_status(admin_cursor, "APP_DB.APP_SCHEMA.WORKER_SVC", "SUSPENDED")
                continue
            if step.who == "user" and user_conn is None:
                user_conn = snowflake.connector.connect(
                    **{**emu.connection_parameters(), "user": "APP_USER", "password": "app-password-1"}
                )
                cursors["user"] = user_conn.cursor()
            entry = record(cursors[step.who], step.sql.replace("{spec_dir}", str(spec_dir)), known)
            out.append({"as": step.who, **entry, "sql": step.sql})
    finally:
        if user_conn is not None:
            user_conn.close()
    return out


def as_text(entries: list[dict[str, Any]]) -> str:
    """One JSON document, one row per line, so that a diff points at the row that changed."""
    lines = ["["]
    for i, entry in enumerate(entries):
        lines.append(" {")
        fields = list(entry.items())
        for j, (key, value) in enumerate(fields):
            comma = "," if j < len(fields) - 1 else ""
            if key == "rows" and value:
                lines.append('  "rows": [')
                lines.extend(
                    f"   {json.dumps(row)}{',' if k < len(value) - 1 else ''}" for k, row in enumerate(value)
                )
                lines.append(f"  ]{comma}")
            else:
                lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}")
        lines.append(" }" + ("," if i < len(entries) - 1 else ""))
    lines.append("]")
    return "\n".join(lines) + "\n"


def test_show_describe_functions_and_refusals_match_the_golden_record(
    emulator: Emulator, admin, tmp_path: Path
) -> None:
    (tmp_path / "worker.yaml").write_text(WORKER_SPEC)
    actual = as_text(run_script(emulator, admin, tmp_path))
    if UPDATE:  # regenerating is never a pass: the new record must be reviewed (git diff), then rerun
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(actual)
        pytest.fail(f"{GOLDEN} regenerated: review `git diff` and run again without SPCS_GOLDEN_UPDATE")
    expected = GOLDEN.read_text()
    assert json.loads(expected)  # the file stays valid JSON
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=str(GOLDEN),
                tofile="this run",
                n=6,
            )
        )
        changed = [
            f"  {new['as']}: {new['sql'][:100]}"
            for old, new in zip(json.loads(expected), json.loads(actual), strict=False)
            if old != new
        ]
        raise AssertionError(
            "SHOW/DESCRIBE output differs from the golden record "
            "(SPCS_GOLDEN_UPDATE=1 regenerates it if the change is intended).\n"
            "Statements whose answer changed:\n" + "\n".join(changed) + f"\n\n{diff}"
        )
