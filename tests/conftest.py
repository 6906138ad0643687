"""Fixtures the harness tests share (the emulator suites have theirs in tests/emulator/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def emulator_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, dict[str, str]]]:
    """An emulator named ``emu`` in a connections.toml (fake runtime), and the environment in which
    `milvus-spcs` uses it; one per module."""
    with Emulator(
        runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path_factory.mktemp("emu")
    ) as emu:
        home = tmp_path_factory.mktemp("snowflake-home")
        (home / "connections.toml").write_text(emu.connections_toml("emu"))
        (home / "connections.toml").chmod(0o600)
        yield (
            emu,
            {
                **os.environ,
                "SNOWFLAKE_HOME": str(home),
                "MILVUS_SPCS_SNOWFLAKE_CONNECTION": "emu",
                "PYTHONPATH": str(REPO / "src"),  # this checkout, whatever the installed copy
                "COLUMNS": "300",  # error boxes unwrapped
            },
        )
