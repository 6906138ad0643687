"""Job services (issue 21, item 3): EXECUTE JOB SERVICE, synchronous and ASYNC, through the real
connector; the job's status to DONE or FAILED, its logs, DROP SERVICE of a job and the name rule.

Sources: docs sql-reference/sql/execute-job-service (sync waits for the containers to exit; ASYNC
returns at once); snowflake-cli tests_integration/spcs/test_services.py ``test_job_services`` (the
answer ``Job <NAME> completed successfully with status: DONE.``, then status, describe, list, logs
and drop); snowflake-cli's job test (SYSTEM$GET_JOB_STATUS: ``DONE``, ``Completed successfully``);
Terraform's pkg/sdk/testint/services_integration_test.go@b1b35cd (an ASYNC job: is_job and
is_async_job true, PENDING, current_instances 0). Most tests use a fake runtime whose containers the
test ends; one runs a real job in the process runtime, one runs ``snow spcs service execute-job``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import snowflake.connector
from snowflake.connector.errors import ProgrammingError

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs import runtime_kinds
from spcs_emulator.spcs.runtime_api import ContainerLaunch
from spcs_emulator.spcs.runtime_kinds import ContainerDirs, RunPlan
from tests.emulator.docker_cli import ROOTFS, docker
from tests.emulator.fakes import FakeIngress, FakeJobHandle, FakeJobRuntime
from tests.emulator.images import publish
from tests.emulator.snow_cli import required_snow, run_snow
from tests.emulator.sql import rows, wait_status

SPEC = """
spec:
  containers:
  - name: main
    image: /db/public/repo/batch:v1
"""
SETUP = (
    "CREATE DATABASE IF NOT EXISTS DB",
    "CREATE IMAGE REPOSITORY IF NOT EXISTS DB.PUBLIC.REPO",
    "CREATE COMPUTE POOL IF NOT EXISTS POOL MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS",
    "USE SCHEMA DB.PUBLIC",
)


def execute(name: str, *extra: str) -> str:
    """The statement as snowflake-cli sends it (services/manager.py ``_execute_job_service``)."""
    return "\n".join(
        [
            f"EXECUTE JOB SERVICE\nIN COMPUTE POOL POOL\nFROM SPECIFICATION $$\n{SPEC}\n$$\nNAME = {name}",
            *extra,
        ]
    )


def set_up(emu: Emulator, cur, runtime_kind: str = "milvus-lite") -> None:
    for sql in SETUP:
        cur.execute(sql)
    repo = rows(cur, "SHOW IMAGE REPOSITORIES IN SCHEMA DB.PUBLIC")[0]["repository_url"]
    publish(emu, f"{repo}/batch:v1", runtime_kind)


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[tuple[Emulator, FakeJobRuntime]]:
    runtime = FakeJobRuntime()
    with Emulator(runtime=runtime, ingress=FakeIngress(), state_dir=tmp_path / "state") as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        set_up(emu, conn.cursor())
        conn.close()
        yield emu, runtime


def connect(emu: Emulator) -> snowflake.connector.SnowflakeConnection:
    conn = snowflake.connector.connect(**emu.connection_parameters())
    conn.cursor().execute("USE SCHEMA DB.PUBLIC")
    return conn


def container(runtime: FakeJobRuntime, job: str) -> FakeJobHandle:
    def launched() -> Probe[FakeJobHandle]:
        found = [h for h in runtime.jobs if h.launch.service == f"DB.PUBLIC.{job}"]
        return Probe(bool(found), found[-1] if found else None)

    handle = wait_for(launched, what=f"the container of job {job}", timeout=10, interval=0.02)
    assert handle is not None
    return handle


class Running(threading.Thread):
    """One statement run in a thread of its own: what it answered, or how it failed."""

    def __init__(self, emu: Emulator, sql: str) -> None:
        super().__init__(daemon=True)
        self.conn = connect(emu)
        self.sql = sql
        self.answer: list[tuple] = []
        self.error: ProgrammingError | None = None

    def run(self) -> None:
        try:
            self.answer = self.conn.cursor().execute(self.sql).fetchall()
        except ProgrammingError as exc:
            self.error = exc
        finally:
            self.conn.close()


def service_row(cur, name: str) -> dict:
    return rows(cur, f"SHOW SERVICES LIKE '{name}' IN SCHEMA DB.PUBLIC")[0]


def test_a_synchronous_job_answers_done_when_its_container_exits_and_blocks_no_other_session(jobs) -> None:
    emu, runtime = jobs
    job = Running(emu, execute("nightly"))
    job.start()
    handle = container(runtime, "NIGHTLY")
    other = connect(emu)
    cur = other.cursor()
    # While the statement waits for its job, other statements (SHOW, DESCRIBE, SELECT) go on.
    wait_status(cur, "NIGHTLY", "RUNNING")
    running = service_row(cur, "NIGHTLY")
    assert (running["is_job"], running["is_async_job"]) == ("true", "false")
    assert (running["current_instances"], running["target_instances"]) == (1, 1)
    assert cur.execute("SELECT 1").fetchall() == [(1,)]
    assert job.is_alive()

    handle.finish(0)
    job.join(timeout=10)
    assert not job.is_alive()
    assert job.error is None
    assert job.answer == [("Job NIGHTLY completed successfully with status: DONE.",)]
    done = service_row(cur, "NIGHTLY")
    assert (done["status"], done["is_job"], done["current_instances"], done["target_instances"]) == (
        "DONE",
        "true",
        0,
        0,
    )
    other.close()


def test_a_finished_job_keeps_its_status_and_logs_until_it_is_dropped(jobs) -> None:
    emu, runtime = jobs
    job = Running(emu, execute("nightly"))
    job.start()
    container(runtime, "NIGHTLY").finish(0)
    job.join(timeout=10)
    conn = connect(emu)
    cur = conn.cursor()
    status = cur.execute("SELECT SYSTEM$GET_SERVICE_STATUS('NIGHTLY')").fetchone()[0]
    assert '"status": "DONE"' in status
    assert '"message": "Completed successfully"' in status
    assert '"containerName": "main"' in status
    assert '"serviceName": "NIGHTLY"' in status
    logs = cur.execute("CALL SYSTEM$GET_SERVICE_LOGS('NIGHTLY', '0', 'main', 100)").fetchone()[0]
    assert logs == "current log of main"
    containers = rows(cur, "SHOW SERVICE CONTAINERS IN SERVICE NIGHTLY")
    assert [(c["status"], c["instance_status"], c["last_exit_code"]) for c in containers] == [
        ("DONE", "SUCCEEDED", 0)
    ]
    assert [r["name"] for r in rows(cur, "SHOW JOB SERVICES IN SCHEMA DB.PUBLIC")] == ["NIGHTLY"]
    assert rows(cur, "SHOW SERVICES EXCLUDE JOBS IN SCHEMA DB.PUBLIC") == []
    # A finished job keeps no pool busy: the pool can be dropped once the job is (DROP needs none).
    assert cur.execute("DROP SERVICE NIGHTLY").fetchall() == [("NIGHTLY successfully dropped.",)]
    assert rows(cur, "SHOW SERVICES IN SCHEMA DB.PUBLIC") == []
    conn.close()


def test_a_job_whose_container_fails_fails_the_statement_with_status_failed(jobs) -> None:
    emu, runtime = jobs
    job = Running(emu, execute("broken"))
    job.start()
    container(runtime, "BROKEN").finish(3)
    job.join(timeout=10)
    assert job.error is not None
    assert "Job BROKEN failed with status: FAILED" in job.error.msg
    assert "exited with code 3" in job.error.msg
    conn = connect(emu)
    cur = conn.cursor()
    failed = rows(cur, "SHOW SERVICE CONTAINERS IN SERVICE BROKEN")
    assert [(c["status"], c["instance_status"], c["last_exit_code"]) for c in failed] == [
        ("FAILED", "FAILED", 3)
    ]
    assert service_row(cur, "BROKEN")["status"] == "FAILED"
    conn.close()


def test_an_async_job_answers_at_once_and_shows_as_an_async_job_until_done(jobs) -> None:
    emu, runtime = jobs
    conn = connect(emu)
    cur = conn.cursor()
    answer = cur.execute(execute("loader", "ASYNC = TRUE", "COMMENT = 'nightly load'")).fetchall()
    assert answer == [("Job LOADER successfully submitted.",)]
    row = service_row(cur, "LOADER")
    assert (row["is_job"], row["is_async_job"], row["comment"], row["auto_resume"]) == (
        "true",
        "true",
        "nightly load",
        "true",
    )
    assert row["status"] in ("PENDING", "RUNNING")
    assert [r["name"] for r in rows(cur, "SHOW JOB SERVICES IN SCHEMA DB.PUBLIC")] == ["LOADER"]
    container(runtime, "LOADER").finish(0)
    wait_status(cur, "LOADER", "DONE")
    with pytest.raises(ProgrammingError) as resumed:  # it ran once: nothing may run it again
        cur.execute("ALTER SERVICE LOADER RESUME")
    assert resumed.value.errno == 9999
    conn.close()


def test_a_job_name_is_taken_until_the_job_is_dropped(jobs) -> None:
    emu, runtime = jobs
    conn = connect(emu)
    cur = conn.cursor()
    cur.execute(execute("loader", "ASYNC = TRUE"))
    container(runtime, "LOADER").finish(0)
    wait_status(cur, "LOADER", "DONE")
    with pytest.raises(ProgrammingError) as again:
        cur.execute(execute("loader", "ASYNC = TRUE"))
    assert again.value.errno == 2002
    assert again.value.msg.endswith("Object 'DB.PUBLIC.LOADER' already exists.")
    cur.execute("DROP SERVICE LOADER")
    assert cur.execute(execute("loader", "ASYNC = TRUE")).fetchall() == [
        ("Job LOADER successfully submitted.",)
    ]
    conn.close()


def test_dropping_a_running_job_stops_it_and_ends_the_waiting_statement(jobs) -> None:
    emu, runtime = jobs
    job = Running(emu, execute("forever"))
    job.start()
    handle = container(runtime, "FOREVER")
    conn = connect(emu)
    conn.cursor().execute("DROP SERVICE FOREVER")
    job.join(timeout=10)
    assert job.error is not None
    assert "dropped before it completed" in job.error.msg
    wait_for(lambda: Probe(handle.stopped), what="the job's container to stop", timeout=10, interval=0.02)
    conn.close()


def test_a_job_suspended_with_its_pool_fails_its_waiting_statement(jobs) -> None:
    """Jobs are never resumed: a synchronous EXECUTE JOB SERVICE whose pool is suspended under it ends
    (it waited for ever, holding a statement worker)."""
    emu, runtime = jobs
    job = Running(emu, execute("pooled"))
    job.start()
    container(runtime, "POOLED")
    conn = connect(emu)
    conn.cursor().execute("ALTER COMPUTE POOL POOL SUSPEND")
    job.join(timeout=10)
    assert job.error is not None, "the statement still waits"
    assert "failed with status: FAILED" in job.error.msg
    assert "compute pool was suspended" in job.error.msg
    conn.close()


def test_synchronous_jobs_that_never_end_cannot_take_every_statement_worker(jobs) -> None:
    """Each waiting statement holds one of the protocol's 4 workers: a third is refused, so logins and
    statements of everyone keep two workers however many never-ending jobs a user starts."""
    emu, runtime = jobs
    waiting = [Running(emu, execute(f"stuck{i}")) for i in range(2)]
    for job in waiting:
        job.start()
    handles = [container(runtime, f"STUCK{i}") for i in range(2)]
    conn = connect(emu)
    cur = conn.cursor()
    with pytest.raises(ProgrammingError) as third:
        cur.execute(execute("third"))
    assert (third.value.errno, third.value.sqlstate) == (391418, "54000")
    assert "ASYNC = TRUE" in third.value.msg
    assert cur.execute(execute("third", "ASYNC = TRUE")).fetchall() == [
        ("Job THIRD successfully submitted.",)
    ]
    login = snowflake.connector.connect(**emu.connection_parameters())  # a login meanwhile
    assert login.cursor().execute("SELECT 1").fetchall() == [(1,)]
    login.close()
    for handle in handles:
        handle.finish(0)
    for job in waiting:
        job.join(timeout=10)
        assert job.answer, job.error
    conn.close()


def test_execute_job_service_takes_its_options_on_either_side_of_from(jobs) -> None:
    emu, _runtime = jobs
    conn = connect(emu)
    cur = conn.cursor()
    # The docs' tutorial writes NAME before FROM; snowflake-cli writes the EAIs before QUERY_WAREHOUSE.
    cur.execute(
        f"EXECUTE JOB SERVICE IN COMPUTE POOL POOL NAME = DB.PUBLIC.FIRST ASYNC = TRUE "
        f"FROM SPECIFICATION $${SPEC}$$ REPLICAS = 1 QUERY_WAREHOUSE = WH COMMENT = 'c'"
    )
    assert service_row(cur, "FIRST")["query_warehouse"] == "WH"
    # The native apps guide quotes the name: NAME = 'services_schema.job_service'.
    cur.execute(
        f"EXECUTE JOB SERVICE IN COMPUTE POOL POOL FROM SPECIFICATION $${SPEC}$$ "
        "NAME = 'public.quoted' ASYNC=TRUE"
    )
    assert service_row(cur, "QUOTED")["is_job"] == "true"
    with pytest.raises(ProgrammingError) as no_name:
        cur.execute(f"EXECUTE JOB SERVICE IN COMPUTE POOL POOL FROM SPECIFICATION $${SPEC}$$")
    assert no_name.value.errno == 2043
    assert "NAME" in no_name.value.msg
    with pytest.raises(ProgrammingError) as replicas:
        cur.execute(execute("second", "REPLICAS = 11"))
    assert "at most 10" in replicas.value.msg  # each replica runs here: the emulator's own bound
    conn.close()


def test_a_job_with_replicas_runs_an_instance_each_and_is_done_when_all_are(jobs) -> None:
    emu, runtime = jobs
    conn = connect(emu)
    cur = conn.cursor()
    cur.execute(execute("wide", "ASYNC = TRUE REPLICAS = 3"))
    wait_for(
        lambda: Probe(len([h for h in runtime.jobs if "WIDE" in h.launch.service]) == 3, state=""),
        what="three replicas of WIDE",
        timeout=10,
        interval=0.02,
    )
    handles = sorted(
        (h for h in runtime.jobs if "WIDE" in h.launch.service), key=lambda h: h.launch.instance_id
    )
    assert [h.launch.instance_id for h in handles] == [0, 1, 2]
    wait_status(cur, "WIDE", "RUNNING")
    assert service_row(cur, "WIDE")["target_instances"] == 3
    handles[0].finish(0)
    handles[1].finish(0)
    instances = rows(cur, "SHOW SERVICE INSTANCES IN SERVICE WIDE")
    assert [r["instance_id"] for r in instances] == ["0", "1", "2"]
    assert service_row(cur, "WIDE")["status"] == "RUNNING"  # one replica still runs
    handles[2].finish(0)
    wait_status(cur, "WIDE", "DONE")
    assert {r["status"] for r in rows(cur, "SHOW SERVICE INSTANCES IN SERVICE WIDE")} == {"SUCCEEDED"}
    # One replica failing fails the job.
    cur.execute(execute("split", "ASYNC = TRUE REPLICAS = 2"))
    wait_for(
        lambda: Probe(len([h for h in runtime.jobs if "SPLIT" in h.launch.service]) == 2, state=""),
        what="two replicas of SPLIT",
        timeout=10,
        interval=0.02,
    )
    failing = next(h for h in runtime.jobs if "SPLIT" in h.launch.service and h.launch.instance_id == 1)
    failing.finish(3)
    wait_status(cur, "SPLIT", "FAILED")
    conn.close()


# -- a real job in the process runtime -------------------------------------------------------------

JOB = """
import sys
for i in range(3):
    print(f"processing {i}", flush=True)
sys.exit(int(sys.argv[1]))
"""


def plan_job(code: int) -> runtime_kinds.Planner:
    def plan(launch: ContainerLaunch, dirs: ContainerDirs, _cache: Path) -> RunPlan:
        return RunPlan([sys.executable, "-c", JOB, str(code)], dirs.cwd)

    return plan


@pytest.mark.parametrize(("code", "answer"), [(0, "DONE"), (4, "FAILED")])
def test_a_job_runs_to_completion_in_the_process_runtime(tmp_path: Path, code: int, answer: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(runtime_kinds.PLANNERS, "milvus-lite", plan_job(code))
        with Emulator(state_dir=tmp_path / "state") as emu:
            conn = snowflake.connector.connect(**emu.connection_parameters())
            cur = conn.cursor()
            set_up(emu, cur)
            if answer == "DONE":
                done = cur.execute(execute("batch")).fetchall()
                assert done == [("Job BATCH completed successfully with status: DONE.",)]
            else:
                with pytest.raises(ProgrammingError) as failed:
                    cur.execute(execute("batch"))
                assert "failed with status: FAILED" in failed.value.msg
                assert f"exited with code {code}" in failed.value.msg
            logs = cur.execute("CALL SYSTEM$GET_SERVICE_LOGS('BATCH', '0', 'main')").fetchone()[0]
            assert logs.splitlines() == ["processing 0", "processing 1", "processing 2"]
            containers = rows(cur, "SHOW SERVICE CONTAINERS IN SERVICE BATCH")
            assert [(c["status"], c["restart_count"], c["last_exit_code"]) for c in containers] == [
                (answer, 0, code)  # never restarted
            ]
            conn.close()


# -- snow spcs service execute-job ------------------------------------------------------------------


def test_snow_spcs_service_execute_job_to_done_with_its_logs(tmp_path: Path) -> None:
    required_snow()  # fails at once, before the emulator starts, when the CLI is missing
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(runtime_kinds.PLANNERS, "milvus-lite", plan_job(0))
        with Emulator(state_dir=tmp_path / "state") as emu:
            conn = snowflake.connector.connect(**emu.connection_parameters())
            set_up(emu, conn.cursor())
            conn.close()
            home = tmp_path / "home"
            home.mkdir()
            entry = emu.connections_toml("emu") + 'database = "DB"\nschema = "PUBLIC"\n'
            (home / "connections.toml").write_text(entry)
            (home / "connections.toml").chmod(0o600)
            spec = tmp_path / "job_service_spec.yaml"
            spec.write_text(SPEC)

            def run(*args: str) -> str:
                return run_snow(home, *args)

            out = run(
                "spcs",
                "service",
                "execute-job",
                "nightly",
                "--compute-pool",
                "pool",
                "--spec-path",
                str(spec),
            )
            assert '"status": "Job NIGHTLY completed successfully with status: DONE."' in out
            logs = run("spcs", "service", "logs", "nightly", "--container-name", "main", "--instance-id", "0")
            assert "processing 0" in logs
            dropped = run("spcs", "service", "drop", "nightly")
            assert "NIGHTLY successfully dropped." in dropped
            # Replicas: an instance each, each with its own logs.
            spec_args = ("--compute-pool", "pool", "--spec-path", str(spec))
            out = run("spcs", "service", "execute-job", "wide", *spec_args, "--replicas", "2")
            assert '"status": "Job WIDE completed successfully with status: DONE."' in out
            listed = json.loads(run("spcs", "service", "list-instances", "wide"))
            assert sorted((i["instance_id"], i["status"]) for i in listed) == [
                ("0", "SUCCEEDED"),
                ("1", "SUCCEEDED"),
            ]
            logs = run("spcs", "service", "logs", "wide", "--container-name", "main", "--instance-id", "1")
            assert "processing 0" in logs


# -- a real job in the docker runtime ---------------------------------------------------------------


@pytest.fixture(scope="module")
def docker_jobs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[snowflake.connector.cursor.SnowflakeCursor]:
    """An emulator with the docker runtime and the batch image pushed to its registry: a cursor."""
    from milvus_spcs.docker_engine import docker_engine_problem, image_labels
    from milvus_spcs.target import token_of

    if docker_engine_problem() is not None:
        pytest.skip(f"no Docker engine: {docker_engine_problem()}")
    if image_labels(ROOTFS) is None:
        pytest.fail(f"{ROOTFS} is missing: run milvus-spcs images build", pytrace=False)
    tmp = tmp_path_factory.mktemp("docker-jobs")
    with Emulator(state_dir=tmp / "state", registry=True, container_runtime="docker") as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        cur = conn.cursor()
        for sql in SETUP:
            cur.execute(sql)
        url = rows(cur, "SHOW IMAGE REPOSITORIES IN SCHEMA DB.PUBLIC")[0]["repository_url"]
        context = tmp / "batch"
        context.mkdir()
        # A JSON-form ENTRYPOINT, whose JSON escapes (backslash n) are the newlines of the script.
        script = "\\n".join(
            (
                "import sys",
                "for i in range(3): print(f'processing {i}', flush=True)",
                "sys.exit(int(sys.argv[1]))",
            )
        )
        (context / "Dockerfile").write_text(
            f'FROM {ROOTFS}\nENTRYPOINT ["python3", "-c", "{script}"]\nCMD ["0"]\n'
        )
        try:
            docker("build", "--network", "none", "-t", f"{url}/batch:v1", str(context))
            env = {**os.environ, "DOCKER_CONFIG": str(tmp / "docker-config")}
            host = url.split("/", 1)[0]
            token = str(token_of(conn))
            docker("login", host, "-u", "0sessiontoken", "--password-stdin", env=env, stdin=token)
            docker("push", f"{url}/batch:v1", env=env)
        finally:  # the local tag goes however the push went (the engine keeps nothing of the test)
            subprocess.run(["docker", "rmi", "-f", f"{url}/batch:v1"], capture_output=True, check=False)
        try:
            yield cur
        finally:
            conn.close()


@pytest.mark.slow
def test_a_job_runs_to_done_in_the_docker_runtime(docker_jobs) -> None:
    cur = docker_jobs
    done = cur.execute(execute("batch")).fetchall()
    assert done == [("Job BATCH completed successfully with status: DONE.",)]
    logs = cur.execute("CALL SYSTEM$GET_SERVICE_LOGS('BATCH', '0', 'main')").fetchone()[0]
    assert logs.splitlines() == ["processing 0", "processing 1", "processing 2"]


@pytest.mark.slow
def test_a_failing_job_is_failed_not_restarted_in_the_docker_runtime(docker_jobs) -> None:
    cur = docker_jobs
    failing = SPEC + '    args: ["5"]\n'
    with pytest.raises(ProgrammingError) as failed:
        cur.execute(
            f"EXECUTE JOB SERVICE IN COMPUTE POOL POOL FROM SPECIFICATION $${failing}$$ NAME = broken"
        )
    assert "exited with code 5" in failed.value.msg
    containers = rows(cur, "SHOW SERVICE CONTAINERS IN SERVICE BROKEN")
    assert [(c["status"], c["restart_count"], c["last_exit_code"]) for c in containers] == [("FAILED", 0, 5)]
