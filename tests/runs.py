"""A harness run against a test emulator: its target, its configuration, and what it left behind."""

from __future__ import annotations

from pathlib import Path

from milvus_spcs.config import resolve_config
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import EmulatorTarget, Target
from spcs_emulator.emulator import Emulator
from tests.leftovers import objects_of_run


def target_of(emu: Emulator) -> Target:
    return EmulatorTarget("test emulator", emu.connection_parameters())


def leftovers(emu: Emulator, run_id: str) -> list[str]:
    """Every object of the account named after ``run_id`` or labelled with it."""
    return objects_of_run(SqlRunner(target_of(emu), []), run_id)


def config(tmp_path: Path, run_id: str):
    """The configuration of run ``run_id``, its artifacts in ``tmp_path``."""
    return resolve_config({"run_id": run_id, "artifacts_dir": str(tmp_path)}, {})
