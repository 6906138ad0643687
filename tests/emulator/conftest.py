"""Fixtures the emulator suites share; a suite that needs another emulator or more setup overrides them
(a fixture ``admin`` of a module may take this ``admin`` and add its statements)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import snowflake.connector

from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime


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
def emulators() -> Iterator[list[Emulator]]:
    """Emulators with real runtimes a test starts itself (several at once); all stopped afterwards."""
    started: list[Emulator] = []
    yield started
    for emu in started:
        emu.stop()
