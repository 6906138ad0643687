"""Fixtures the emulator suites share; a suite that needs another emulator or more setup overrides them
(a fixture ``admin`` of a module may take this ``admin`` and add its statements)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import snowflake.connector

from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.runtime import LocalRuntime
from tests.emulator.cli_emulator import CliEmulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.local_runtime import processes_with
from tests.emulator.stage_user import create_stage_user, mallory_params


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """An emulator whose containers and ingress are fakes."""
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "state") as emu:
        yield emu


@pytest.fixture
def admin(emulator: Emulator) -> Iterator[snowflake.connector.cursor.SnowflakeCursor]:
    """A cursor of the emulator's admin user (ACCOUNTADMIN), closed after the test."""
    conn = snowflake.connector.connect(**emulator.connection_parameters())
    yield conn.cursor()
    conn.close()


@pytest.fixture
def stage_user(admin):
    """The ``admin`` cursor, once user MALLORY exists (tests/emulator/stage_user.py)."""
    create_stage_user(admin)
    return admin


@pytest.fixture
def mallory(emulator: Emulator, stage_user) -> Iterator[snowflake.connector.cursor.SnowflakeCursor]:
    """A cursor of MALLORY (role APP, database D, schema PUBLIC), closed after the test."""
    conn = snowflake.connector.connect(**mallory_params(emulator))
    yield conn.cursor()
    conn.close()


@pytest.fixture
def emulators() -> Iterator[list[Emulator]]:
    """Emulators with real runtimes a test starts itself (several at once); all stopped afterwards."""
    started: list[Emulator] = []
    yield started
    for emu in started:
        emu.stop()


@pytest.fixture
def cli_emulators() -> Iterator[list[CliEmulator]]:
    """`milvus-spcs emulator` subprocesses a test starts itself; SIGTERM to each still running afterwards."""
    started: list[CliEmulator] = []
    yield started
    for cli in started:
        cli.terminate()


@pytest.fixture
def marker() -> str:
    """The value of the test's launches' ``MARKER_ENV`` (tests/emulator/local_runtime.py)."""
    return uuid.uuid4().hex


@pytest.fixture
def runtime(tmp_path: Path, marker: str) -> Iterator[LocalRuntime]:
    """The real process runtime, without a control plane, with the image files of ``jupyter:v1``; no
    process of the test's ``marker`` may outlive its shutdown."""
    image = tmp_path / "image-files"
    image.mkdir()
    (image / "Notebook.ipynb").write_text("{}")
    rt = LocalRuntime(
        tmp_path / "runtime",
        image_dirs={"jupyter:v1": image},
        restart_delay=0.2,
        probe_interval=0.1,
        stop_grace=5.0,
    )
    yield rt
    rt.shutdown()
    assert processes_with(marker) == [], "processes outlived the runtime"
