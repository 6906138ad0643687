"""`milvus-spcs record` against a running emulator, through a named connection, writes a file that
replays green, with nothing of the run (names, password) in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from milvus_spcs.conformance.catalogue import CatalogueRun
from milvus_spcs.conformance.observation import load, load_dir
from milvus_spcs.conformance.verdict import verdict
from milvus_spcs.target import EmulatorTarget
from tests.conformance.conftest import OBSERVATIONS, conformance_emulator

RECORD = [sys.executable, "-m", "milvus_spcs.cli", "record"]


@pytest.mark.slow
def test_record_against_a_named_emulator_replays_green(tmp_path: Path) -> None:
    out = tmp_path / "recorded.yaml"
    with conformance_emulator(tmp_path / "recorded-on") as emu:
        home = tmp_path / "snowflake-home"
        home.mkdir(mode=0o700)
        fd = os.open(home / "connections.toml", os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as toml:
            toml.write(emu.connections_toml("recorded"))
        done = subprocess.run(
            [*RECORD, "--snowflake-connection", "recorded", "--out", str(out), "--with-services"],
            env={**os.environ, "SNOWFLAKE_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "torn down" in done.stdout
        for show, name_at in (("SHOW DATABASES", 1), ("SHOW COMPUTE POOLS", 0), ("SHOW ROLES", 1)):
            left = [r[name_at] for r in emu_rows(emu, show) if str(r[name_at]).startswith("MILVUS_SPCS_")]
            assert left == [], f"the scratch run is torn down: {show} still lists {left}"
        password = emu.admin_password
    text = out.read_text()
    assert "MILVUS_SPCS_" not in text.upper().replace("MILVUS_SPCS_OBSERVATIONS", "")
    assert password not in text
    recorded = load(out)
    assert {o.id for o in recorded} == {o.id for o in load_dir(OBSERVATIONS)}
    assert all(o.source.startswith("recorded on ") for o in recorded)

    # Replayed on another emulator, as the nightly replays the account's recording.
    with conformance_emulator(tmp_path / "replayed-on") as emu:
        target = EmulatorTarget("replay", emu.connection_parameters())
        answers = CatalogueRun(target, with_services=True, service_timeout=60).run(recorded)
    problems = [line for obs in recorded for line in verdict(obs, answers[obs.id])]
    assert not problems, "\n".join(problems)


def emu_rows(emu, sql: str) -> list[tuple]:
    import snowflake.connector

    conn = snowflake.connector.connect(**emu.connection_parameters())
    try:
        return list(conn.cursor().execute(sql).fetchall())
    finally:
        conn.close()
