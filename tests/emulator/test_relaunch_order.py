"""A RESUME launches only once the containers it replaces have stopped. Under load the Docker engine was
still removing a suspended service's container when RESUME created the new one under the same name: the
create failed with 409 Conflict and the service stayed PENDING (seen in the docker-concurrent drill)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import snowflake.connector

from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeHandle, FakeIngress, FakeRuntime
from tests.emulator.images import publish
from tests.emulator.sql import rows, wait_status


@dataclass
class SlowStopHandle(FakeHandle):
    released: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self.released.wait(timeout=30)  # the engine removing the container, slowly
        super().stop()


@dataclass
class SlowStopRuntime(FakeRuntime):
    release: threading.Event = field(default_factory=threading.Event)

    def launch(self, launch):  # type: ignore[no-untyped-def]
        handle = SlowStopHandle(launch, state=self.initial_state, released=self.release)
        self.handles.append(handle)
        return handle


@pytest.fixture
def runtime() -> SlowStopRuntime:
    return SlowStopRuntime()


@pytest.fixture
def emulator(tmp_path: Path, runtime: SlowStopRuntime) -> Iterator[Emulator]:
    with Emulator(runtime=runtime, ingress=FakeIngress(), state_dir=tmp_path / "state") as emu:
        yield emu
        runtime.release.set()


@pytest.fixture
def admin(emulator: Emulator) -> Iterator[snowflake.connector.cursor.SnowflakeCursor]:
    with snowflake.connector.connect(**emulator.connection_parameters()) as conn:
        yield conn.cursor()


def test_resume_waits_for_the_suspended_containers_to_stop(
    emulator: Emulator, admin, runtime: SlowStopRuntime
) -> None:
    for sql in (
        "CREATE DATABASE D",
        "CREATE IMAGE REPOSITORY D.PUBLIC.R",
        "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS",
    ):
        admin.execute(sql)
    repo = rows(admin, "SHOW IMAGE REPOSITORIES IN SCHEMA D.PUBLIC")[0]["repository_url"]
    publish(emulator, f"{repo}/m:1", "jupyter")
    admin.execute(
        "CREATE SERVICE D.PUBLIC.S IN COMPUTE POOL P FROM SPECIFICATION "
        "$${spec: {containers: [{name: main, image: /d/public/r/m:1}]}}$$"
    )
    wait_status(admin, "D.PUBLIC.S", "RUNNING")
    [first] = runtime.handles

    admin.execute("ALTER SERVICE D.PUBLIC.S SUSPEND")
    wait_status(admin, "D.PUBLIC.S", "SUSPENDED")
    admin.execute("ALTER SERVICE D.PUBLIC.S RESUME")
    # Scheduling takes a moment; while the old container is still being removed, nothing is launched.
    for _ in range(20):
        emulator.control.tick()
        rows(admin, "DESCRIBE SERVICE D.PUBLIC.S")
    assert runtime.handles == [first], "a container was launched while the one it replaces was stopping"
    assert rows(admin, "DESCRIBE SERVICE D.PUBLIC.S")[0]["status"] == "PENDING"

    runtime.release.set()
    wait_status(admin, "D.PUBLIC.S", "RUNNING")
    assert len(runtime.handles) == 2
    assert first.stopped
