"""The account end to end through the real connector: the guide's SQL, access control, platform rules,
lifecycle. Runtime and ingress are test doubles here (test_runtime.py covers the real ones)."""

from __future__ import annotations

import re

import pytest
from snowflake.connector.errors import DatabaseError, ProgrammingError

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator import ControlError
from spcs_emulator.emulator import Emulator
from spcs_emulator.paths import fqn_dir
from spcs_emulator.spcs.lifecycle import ENDPOINT_PROVISIONING_TEXT
from tests.emulator.guide import DATA, run_guide_setup, statements
from tests.emulator.images import control_client
from tests.emulator.sql import connect, rows, wait_status


def test_the_guide_runs_verbatim_and_both_services_run(emulator: Emulator, admin) -> None:
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE SYSADMIN")
    for service in ("MILVUS", "JUPYTER"):
        wait_status(admin, service, "RUNNING")
    services = {r["name"]: r for r in rows(admin, "SHOW SERVICES")}
    assert set(services) == {"MILVUS", "JUPYTER"}
    assert re.fullmatch(r"milvus\.[a-z0-9]{4}\.svc\.spcs\.internal", services["MILVUS"]["dns_name"])
    assert services["JUPYTER"]["owner"] == "SYSADMIN"

    def ingress_ready() -> Probe[str]:
        endpoint = rows(admin, "SHOW ENDPOINTS IN SERVICE MILVUS_DEMO.PUBLIC.JUPYTER")[0]
        url = endpoint["ingress_url"]
        return Probe(url != ENDPOINT_PROVISIONING_TEXT, url, state=url)

    url = wait_for(ingress_ready, what="the Jupyter ingress URL", timeout=10, interval=0.05)
    assert re.fullmatch(r"127\.0\.0\.1:\d+", url)
    endpoints = {r["name"]: r for r in rows(admin, "SHOW ENDPOINTS IN SERVICE MILVUS")}
    assert {n: e["is_public"] for n, e in endpoints.items()} == {"grpc": False, "health": False}
    for sql in statements(DATA / "guide_teardown.sql"):
        admin.execute(sql)
    admin.execute("USE ROLE ACCOUNTADMIN")
    assert rows(admin, "SHOW COMPUTE POOLS") == []
    assert not [r for r in rows(admin, "SHOW ROLES") if r["name"] == "MILVUS_ROLE"]


def test_milvus_user_logs_in_with_the_guide_password_and_default_role(emulator: Emulator, admin) -> None:
    run_guide_setup(emulator, admin)
    conn = connect(emulator, user="milvus_user", password="milvususerok")
    try:
        cur = conn.cursor()
        assert rows(cur, "SELECT CURRENT_ROLE() AS r")[0]["R"] == "MILVUS_ROLE"
        cur.execute("USE DATABASE MILVUS_DEMO")  # ALL PRIVILEGES on the database includes USAGE
        with pytest.raises(ProgrammingError) as info:
            cur.execute("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
        assert (info.value.errno, info.value.sqlstate) == (3001, "42501")
        with pytest.raises(ProgrammingError) as info:
            cur.execute("DROP SERVICE MILVUS_DEMO.PUBLIC.MILVUS")  # not even visible to MILVUS_ROLE
        assert (info.value.errno, info.value.sqlstate) == (2003, "02000")
        assert "Service 'MILVUS_DEMO.PUBLIC.MILVUS' does not exist or not authorized." in str(info.value)
    finally:
        conn.close()


def test_wrong_password_is_refused(emulator: Emulator) -> None:
    with pytest.raises(DatabaseError, match="Incorrect username or password"):
        connect(emulator, password="not-the-password")


def test_drop_compute_pool_with_a_service_fails_until_the_service_is_gone(emulator: Emulator, admin) -> None:
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE SYSADMIN")
    with pytest.raises(ProgrammingError, match="Cannot drop compute pool MILVUS_COMPUTE_POOL"):
        admin.execute("DROP COMPUTE POOL MILVUS_COMPUTE_POOL")
    admin.execute("ALTER COMPUTE POOL MILVUS_COMPUTE_POOL STOP ALL")
    assert rows(admin, "SHOW SERVICES LIKE 'MILVUS'") == []
    admin.execute("DROP COMPUTE POOL MILVUS_COMPUTE_POOL")


def test_create_or_replace_service_is_a_syntax_error(emulator: Emulator, admin) -> None:
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE SYSADMIN")
    with pytest.raises(ProgrammingError) as info:
        admin.execute(
            "CREATE OR REPLACE SERVICE MILVUS IN COMPUTE POOL MILVUS_COMPUTE_POOL "
            "FROM @YAML_STAGE SPEC='milvus.yaml'"
        )
    assert (info.value.errno, info.value.sqlstate) == (1003, "42000")


@pytest.mark.parametrize(
    ("sql", "errno"),
    [
        ("SELEKT 1", 1003),
        ("EXECUTE TASK T", 1003),
        ("SHOW PARAMETERS LIKE 'event_table' IN ACCOUNT", 9999),
        ("CREATE SECRET s TYPE = OAUTH2", 9999),
    ],
)
def test_unknown_or_unemulated_statements_fail_never_succeed(admin, sql: str, errno: int) -> None:
    admin.execute("CREATE DATABASE D")
    with pytest.raises(ProgrammingError) as info:
        admin.execute(sql)
    assert info.value.errno == errno


def test_service_whose_image_was_never_published_fails(emulator: Emulator, admin) -> None:
    admin.execute("CREATE DATABASE D")
    admin.execute("CREATE IMAGE REPOSITORY R")
    admin.execute("CREATE ROLE OWNER_ROLE")
    admin.execute("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
    admin.execute(
        "CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $$"
        '{"spec": {"containers": [{"name": "main", "image": "/d/public/r/never:1"}]}}$$'
    )
    wait_status(admin, "S", "FAILED")
    container = rows(admin, "SHOW SERVICE CONTAINERS IN SERVICE S")[0]
    assert container["status"] == "FAILED"
    assert "image not found" in container["message"]


def test_block_volumes_need_drop_service_force(emulator: Emulator, admin) -> None:
    admin.execute("CREATE DATABASE D")
    admin.execute("CREATE IMAGE REPOSITORY R")
    admin.execute("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
    spec = (
        '{"spec": {"containers": [{"name": "m", "image": "/d/public/r/m:1", '
        '"volumeMounts": [{"name": "data", "mountPath": "/data"}]}], '
        '"volumes": [{"name": "data", "source": "block", "size": "1Gi"}]}}'
    )
    admin.execute(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${spec}$$")
    with pytest.raises(ProgrammingError, match="FORCE"):
        admin.execute("DROP SERVICE S")
    admin.execute("DROP SERVICE S FORCE")


def test_stage_mount_v1_is_rejected(admin) -> None:
    admin.execute("CREATE DATABASE D")
    admin.execute("CREATE IMAGE REPOSITORY R")
    admin.execute("CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS")
    spec = (
        "spec:\n  containers:\n  - name: m\n    image: /d/public/r/m:1\n    volumeMounts:\n    - name: s\n"
        '      mountPath: /s\n  volumes:\n  - name: s\n    source: "@d.public.st"\n'
    )
    with pytest.raises(ProgrammingError, match="stage mount v1 not supported, please use v2 instead"):
        admin.execute(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${spec}$$")


def test_suspend_resume_and_statement_fault_injection(emulator: Emulator, admin) -> None:
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE SYSADMIN")
    wait_status(admin, "MILVUS", "RUNNING")
    admin.execute("ALTER SERVICE MILVUS SUSPEND")
    wait_status(admin, "MILVUS", "SUSPENDED")
    assert rows(admin, "SHOW SERVICE CONTAINERS IN SERVICE MILVUS")[0]["instance_id"] is None
    admin.execute("ALTER SERVICE MILVUS RESUME")
    wait_status(admin, "MILVUS", "RUNNING")
    emulator.account.state.faults.fail_statement(r"^DROP SERVICE", message="Injected: drop refused.")
    with pytest.raises(ProgrammingError, match="Injected: drop refused"):
        admin.execute("DROP SERVICE MILVUS")
    admin.execute("DROP SERVICE MILVUS")  # the fault fired once


def test_system_functions_answer_like_snowflake(emulator: Emulator, admin) -> None:
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE SYSADMIN")
    wait_status(admin, "MILVUS", "RUNNING")
    import json

    status = json.loads(
        rows(admin, "CALL SYSTEM$GET_SERVICE_STATUS('milvus')")[0]["SYSTEM$GET_SERVICE_STATUS"]
    )
    assert [(s["status"], s["containerName"], s["instanceId"]) for s in status] == [("READY", "milvus", "0")]
    logs = rows(admin, "CALL SYSTEM$GET_SERVICE_LOGS('milvus', '0', 'milvus', 10)")[0]
    assert "current log of milvus" in next(iter(logs.values()))


def test_control_api_injects_start_failures_and_crashes(emulator: Emulator, admin) -> None:
    control = control_client(emulator)
    control.fail_service_start("MILVUS", "capacity")
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE SYSADMIN")
    wait_status(admin, "MILVUS", "FAILED")
    assert "insufficient CPU" in rows(admin, "SHOW SERVICE CONTAINERS IN SERVICE MILVUS")[0]["message"]
    wait_status(admin, "JUPYTER", "RUNNING")
    control.crash_container("JUPYTER", "jupyter")
    assert rows(admin, "SHOW SERVICE CONTAINERS IN SERVICE JUPYTER")[0]["restart_count"] == 1
    with pytest.raises(ControlError) as unknown:
        control.crash_container("JUPYTER", "nope")
    assert unknown.value.status == 400
    assert "no running container" in unknown.value.error
    control.reset()
    admin.execute("USE ROLE ACCOUNTADMIN")
    assert rows(admin, "SHOW DATABASES") == []


def test_service_roles_are_granted_and_shown(emulator: Emulator, admin) -> None:
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE SYSADMIN")
    admin.execute("GRANT SERVICE ROLE MILVUS_DEMO.PUBLIC.JUPYTER!ALL_ENDPOINTS_USAGE TO ROLE MILVUS_ROLE")
    to_role = rows(admin, "SHOW GRANTS TO SERVICE ROLE MILVUS_DEMO.PUBLIC.JUPYTER!ALL_ENDPOINTS_USAGE")
    assert [(g["privilege"], g["name"]) for g in to_role] == [("USAGE", "MILVUS_DEMO.PUBLIC.JUPYTER!jupyter")]
    of_role = rows(admin, "SHOW GRANTS OF SERVICE ROLE MILVUS_DEMO.PUBLIC.JUPYTER!ALL_ENDPOINTS_USAGE")
    assert [(g["granted_to"], g["grantee_name"]) for g in of_role] == [("ROLE", "MILVUS_ROLE")]
    with pytest.raises(ProgrammingError) as info:
        admin.execute("GRANT SERVICE ROLE MILVUS_DEMO.PUBLIC.JUPYTER!NO_SUCH_ROLE TO ROLE MILVUS_ROLE")
    assert info.value.errno == 2003


@pytest.mark.parametrize("drop", ["DROP DATABASE MILVUS_DEMO", "DROP SCHEMA MILVUS_DEMO.PUBLIC"])
def test_dropping_what_holds_a_service_cascades_through_the_services_own_drop(
    emulator: Emulator, admin, drop: str
) -> None:
    """DROP DATABASE/SCHEMA removes each object it holds through that object's kind: the service stops
    and its service roles stop being granted (they used to outlive the database in SHOW GRANTS)."""
    run_guide_setup(emulator, admin)
    admin.execute("USE ROLE SYSADMIN")
    wait_status(admin, "JUPYTER", "RUNNING")
    admin.execute("GRANT SERVICE ROLE MILVUS_DEMO.PUBLIC.JUPYTER!ALL_ENDPOINTS_USAGE TO ROLE MILVUS_ROLE")
    admin.execute("USE ROLE ACCOUNTADMIN")
    admin.execute(drop)
    held = [g["name"] for g in rows(admin, "SHOW GRANTS TO ROLE MILVUS_ROLE")]
    assert not [name for name in held if "!" in name], held
    assert rows(admin, "SHOW SERVICES IN ACCOUNT") == []
    assert emulator.control.services == {}
    # The stages went with it, folder and all (a file no stage object owns too).
    dropped = fqn_dir(emulator.state_dir / "stages", tuple(drop.split()[-1].split(".")))
    assert not dropped.exists()
