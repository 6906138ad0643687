"""Stuck states answer as on Snowflake, and a service's platform events are answered by
``SELECT * FROM TABLE(<service>!SPCS_GET_EVENTS())`` (issue 19, item 2), through the real connector.

Sources: docs show-service-containers-in-service (no instance: instance and container fields NULL),
docs spcs_get_events (columns and types, MONITOR), docs monitoring-services "Supported events" (names,
severities, messages), Terraform's testint (a starting pool's status_message; suspended_on/resumed_on).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import snowflake.connector
from snowflake.connector.errors import ProgrammingError

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.runtime_api import ContainerLaunch
from tests.emulator.fakes import FakeIngress
from tests.emulator.images import publish
from tests.emulator.sql import rows, wait_status

SPEC = """
spec:
  containers:
  - name: main
    image: /d/public/r/web:1
    readinessProbe:
      port: 9091
      path: /healthz
"""


@dataclass
class Handle:
    """A container whose status, restarts and exit code the test sets."""

    launch: ContainerLaunch
    state: str = "PENDING"
    message: str = "Readiness probe is failing"
    restarts: int = 0
    exit_code: int | None = None
    started: float | None = 1.0

    def status(self) -> tuple[str, str]:
        return self.state, self.message

    @property
    def restart_count(self) -> int:
        return self.restarts

    @property
    def last_exit_code(self) -> int | None:
        return self.exit_code

    @property
    def start_time(self) -> float | None:
        return self.started

    def logs(self, *, previous: bool = False, lines: int | None = None, timestamps: bool = False) -> str:
        return "a log line"

    def crash(self) -> None:
        self.restarts += 1

    def stop(self) -> None:
        self.state = "DONE"


@dataclass
class Runtime:
    handles: list[Handle] = field(default_factory=list)

    def launch(self, launch: ContainerLaunch) -> Handle:
        self.handles.append(Handle(launch))
        return self.handles[-1]

    def update_hosts(self, hosts: object) -> None:
        pass

    def forget_service(self, service_id: str) -> None:
        pass

    def shutdown(self) -> None:
        pass


def setup(emu: Emulator, cur: Any, *, publish_image: bool = True) -> None:
    for sql in (
        "CREATE SECURITY INTEGRATION I TYPE = OAUTH OAUTH_CLIENT = SNOWSERVICES_INGRESS ENABLED = TRUE",
        "CREATE DATABASE D",
        "CREATE IMAGE REPOSITORY R",
        "CREATE COMPUTE POOL P MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS",
    ):
        cur.execute(sql)
    if publish_image:
        publish(emu, "/d/public/r/web:1", "jupyter")
    cur.execute(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$")


def events(cur: Any) -> list[dict[str, Any]]:
    """Oldest first (the function answers newest first)."""
    return list(reversed(rows(cur, "SELECT * FROM TABLE(D.PUBLIC.S!SPCS_GET_EVENTS())")))


def said(cur: Any) -> list[tuple[str, str, str]]:
    out = []
    for e in events(cur):
        details = json.loads(e["EVENT_DETAILS"])
        out.append((e["EVENT_NAME"], details["status"], details["message"]))
    return out


def wait_event(cur: Any, wanted: tuple[str, str, str]) -> None:
    def probe() -> Probe[None]:
        seen = said(cur)
        return Probe(wanted in seen, state=str(seen[-3:]))

    wait_for(probe, what=f"event {wanted}", timeout=10, interval=0.05)


@pytest.fixture
def stuck(tmp_path: Path) -> Iterator[tuple[Emulator, Any]]:
    """An emulator whose pools take minutes to start: a new service stays PENDING, with no instance."""
    emu = Emulator(
        runtime=Runtime(), ingress=FakeIngress(), state_dir=tmp_path, profile="realistic", time_scale=10
    )
    with emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        yield emu, conn.cursor()
        conn.close()


@pytest.fixture
def steered(tmp_path: Path) -> Iterator[tuple[Emulator, Runtime, Any]]:
    runtime = Runtime()
    with Emulator(runtime=runtime, ingress=FakeIngress(), state_dir=tmp_path) as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        yield emu, runtime, conn.cursor()
        conn.close()


def test_a_pending_service_answers_as_snowflake_does(stuck) -> None:
    emu, cur = stuck
    setup(emu, cur)
    pool = rows(cur, "DESCRIBE COMPUTE POOL P")[0]
    assert (pool["state"], pool["status_message"]) == (
        "STARTING",
        "Compute pool is starting for last 0 minutes",
    )
    containers = rows(cur, "SHOW SERVICE CONTAINERS IN SERVICE S")
    assert len(containers) == 1
    row = containers[0]
    assert (row["service_name"], row["service_status"]) == ("S", "PENDING")
    assert all(row[k] is None for k in list(row)[4:]), row  # instance and container fields are NULL
    with pytest.raises(ProgrammingError) as info:
        cur.execute("CALL SYSTEM$GET_SERVICE_LOGS('S', '0', 'main', 10)")
    assert "Container Status: PENDING" in str(info.value)
    assert said(cur) == [("SERVICE.STATUS_CHANGE", "PENDING", "Service is pending")]


def test_suspend_and_resume_set_their_times(stuck) -> None:
    emu, cur = stuck
    setup(emu, cur)
    before = rows(cur, "SHOW SERVICES LIKE 'S'")[0]
    assert (before["resumed_on"], before["suspended_on"]) == (None, None)
    cur.execute("ALTER SERVICE S SUSPEND")
    suspended = rows(cur, "SHOW SERVICES LIKE 'S'")[0]
    assert suspended["resumed_on"] is None
    assert isinstance(suspended["suspended_on"], dt.datetime)
    cur.execute("ALTER SERVICE S RESUME")
    resumed = rows(cur, "DESCRIBE SERVICE S")[0]
    assert isinstance(resumed["resumed_on"], dt.datetime)
    assert resumed["suspended_on"] is not None
    assert [s for _, s, _ in said(cur)] == ["PENDING", "SUSPENDING", "RESUMING"]


def test_events_tell_readiness_start_crash_and_memory(steered) -> None:
    emu, runtime, cur = steered
    setup(emu, cur)
    wait_event(
        cur,
        ("CONTAINER.STATUS_CHANGE", "PENDING", "Readiness probe is failing at path: /healthz, port: 9091"),
    )
    handle = runtime.handles[0]
    handle.state, handle.message = "READY", "Running"
    wait_status(cur, "S", "RUNNING")
    wait_event(cur, ("SERVICE.STATUS_CHANGE", "RUNNING", "Service is ready"))
    handle.restarts, handle.exit_code = 1, 3  # a run ended between two looks
    wait_event(cur, ("CONTAINER.STATUS_CHANGE", "FAILED", "Encountered fatal error, retrying"))
    handle.state, handle.message = "FAILED", "Container was OOMKilled due to resource usage"
    wait_event(cur, ("CONTAINER.STATUS_CHANGE", "FAILED", "Container was OOMKilled due to resource usage"))
    crash = next(e for e in events(cur) if json.loads(e["EVENT_DETAILS"])["status"] == "FAILED")
    assert (crash["SEVERITY"], crash["CONTAINER_NAME"], crash["INSTANCE_ID"]) == ("ERROR", "main", 0)
    assert json.loads(crash["RECORD"]) == {"name": "CONTAINER.STATUS_CHANGE", "severity_text": "ERROR"}
    assert json.loads(crash["RECORD_ATTRIBUTES"]) == {"exit_code": 3}
    assert isinstance(crash["TIMESTAMP"], dt.datetime)
    assert crash["TIMESTAMP"].tzinfo is None
    types = {d.name: d.type_code for d in cur.description}
    assert list(types) == [
        "TIMESTAMP",
        "SEVERITY",
        "EVENT_NAME",
        "EVENT_DETAILS",
        "INSTANCE_ID",
        "CONTAINER_NAME",
        "RECORD",
        "RECORD_ATTRIBUTES",
    ]


def test_a_missing_image_is_an_error_event_and_the_service_fails(steered) -> None:
    emu, _, cur = steered
    setup(emu, cur, publish_image=False)
    wait_status(cur, "S", "FAILED")
    seen = said(cur)
    pull = [s for s in seen if s[0] == "CONTAINER.STATUS_CHANGE"]
    assert pull
    assert pull[0][1] == "PENDING"
    assert pull[0][2].startswith("Failed to pull image /d/public/r/web:1")
    assert seen[-1] == ("SERVICE.STATUS_CHANGE", "FAILED", "Service has failed")


def test_events_need_monitor_and_take_a_time_window(steered) -> None:
    emu, _, cur = steered
    setup(emu, cur)
    cur.execute("CREATE ROLE OUTSIDER")
    cur.execute("GRANT USAGE ON DATABASE D TO ROLE OUTSIDER")
    cur.execute("GRANT USAGE ON SCHEMA D.PUBLIC TO ROLE OUTSIDER")
    cur.execute("GRANT USAGE ON SERVICE D.PUBLIC.S TO ROLE OUTSIDER")
    cur.execute("GRANT ROLE OUTSIDER TO USER ADMIN")
    cur.execute("USE ROLE OUTSIDER")
    with pytest.raises(ProgrammingError) as info:
        cur.execute("SELECT * FROM TABLE(D.PUBLIC.S!SPCS_GET_EVENTS())")
    assert info.value.errno == 3001
    cur.execute("USE ROLE ACCOUNTADMIN")
    window = "START_TIME => DATEADD('hour', -1, CURRENT_TIMESTAMP()), END_TIME => CURRENT_TIMESTAMP()"
    assert rows(cur, f"SELECT * FROM TABLE(D.PUBLIC.S!SPCS_GET_EVENTS({window}))")
    future = "START_TIME => DATEADD('day', 1, CURRENT_TIMESTAMP())"
    assert rows(cur, f"SELECT * FROM TABLE(D.PUBLIC.S!SPCS_GET_EVENTS({future}))") == []
    with pytest.raises(ProgrammingError) as info:
        cur.execute("SELECT * FROM TABLE(D.PUBLIC.S!SPCS_GET_METRICS())")
    assert info.value.errno == 9999  # valid Snowflake, not emulated


def test_show_endpoints_answers_is_public_as_a_boolean(steered) -> None:
    emu, _, cur = steered
    cur.execute(
        "CREATE SECURITY INTEGRATION I TYPE = OAUTH OAUTH_CLIENT = SNOWSERVICES_INGRESS ENABLED = TRUE"
    )
    for sql in ("CREATE DATABASE D", "CREATE IMAGE REPOSITORY R"):
        cur.execute(sql)
    cur.execute("CREATE COMPUTE POOL P MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS")
    publish(emu, "/d/public/r/web:1", "jupyter")
    spec = (
        SPEC + "  endpoints:\n  - name: ui\n    port: 8888\n    public: true\n  - name: api\n    port: 9000\n"
    )
    cur.execute(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${spec}$$")
    endpoints = {r["name"]: r["is_public"] for r in rows(cur, "SHOW ENDPOINTS IN SERVICE S")}
    assert endpoints == {"ui": True, "api": False}
