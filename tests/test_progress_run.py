"""What a user sees during a run, end to end on an emulator with fake containers and the realistic
profile scaled down (pools take seconds, not minutes): progress lines that arrive while provisioning
runs and name the states waited for, in `milvus-spcs up/down` and in `pytest -m spcs`; the run's
timeline.json/.png and usage.json; a failing service explained in the pytest report itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from milvus_spcs.stack.spcs_plan import STACK_STEPS
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
TIME_SCALE = 0.01  # realistic profile: pools 2.4 s, services 0.45 s, the ingress URL 1.5 s
SUMMARY = "provisioning: wall="


@dataclass(frozen=True)
class Line:
    at: float  # when the reader got it
    text: str


def run_streaming(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, list[Line], str]:
    """Run ``command``, stamping each stdout line when it arrives (not when the process ends)."""
    with subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        lines = [Line(time.monotonic(), text.rstrip("\n")) for text in process.stdout]
        stderr = process.stderr.read()
        return process.wait(timeout=300), lines, stderr


def first(lines: list[Line], *words: str) -> Line:
    found = next((line for line in lines if all(w in line.text for w in words)), None)
    assert found is not None, f"no line with {words} in:\n" + "\n".join(line.text for line in lines)
    return found


def assert_progress_arrived_during_provisioning(lines: list[Line]) -> None:
    """A pool's STARTING, a service's PENDING and the endpoint's provisioning text, each shown with the
    deadline left, well before provisioning's summary line (the pools alone take 2.4 s)."""
    summary = first(lines, SUMMARY)
    starting = first(lines, "pool_milvus", "STARTING", "deadline in")
    assert summary.at - starting.at > 1.0, "progress came all at once, at the end"
    for words in (("pool_jupyter", "IDLE"), ("service_milvus", "PENDING"), ("service_milvus", "RUNNING")):
        assert first(lines, *words).at < summary.at
    assert first(lines, "endpoint_access", "provisioning in progress").at < summary.at
    assert first(lines, "pool_milvus", "done in").at < summary.at


@pytest.fixture
def emulator_home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A realistic-profile emulator (fake containers) named `emu` in a connections.toml."""
    with Emulator(
        runtime=FakeRuntime(),
        ingress=FakeIngress(),
        profile="realistic",
        time_scale=TIME_SCALE,
        state_dir=tmp_path / "emu",
    ) as emu:
        home = tmp_path / "snowflake-home"
        home.mkdir()
        (home / "connections.toml").write_text(emu.connections_toml("emu"))
        (home / "connections.toml").chmod(0o600)
        yield {
            **os.environ,
            "SNOWFLAKE_HOME": str(home),
            "MILVUS_SPCS_SNOWFLAKE_CONNECTION": "emu",
            "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}",
            "PYTHONWARNINGS": "default",  # a library warning would show: it must be filtered by us
        }


def test_cli_up_and_down_show_progress_as_it_happens(emulator_home: dict[str, str], tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "milvus_spcs.cli"]
    code, lines, stderr = run_streaming(
        [*cli, "up", "--run-id", "prg001", "--artifacts-dir", str(tmp_path / "artifacts")],
        emulator_home,
        tmp_path,
    )
    assert code == 0, stderr[-3000:]
    assert_progress_arrived_during_provisioning(lines)
    assert "FutureWarning" not in stderr
    assert (tmp_path / "artifacts" / "prg001" / "timeline.png").stat().st_size > 0
    usage = json.loads((tmp_path / "artifacts" / "prg001" / "usage.json").read_text())
    assert all(pool["still_there"] for pool in usage["compute_pools"])  # `up` keeps the stack

    code, lines, stderr = run_streaming([*cli, "down", "--run", "prg001"], emulator_home, tmp_path)
    assert code == 0, stderr[-3000:]
    assert first(lines, "drop service", "MILVUS_SPCS_PRG001_DB").at < first(lines, "run prg001 removed").at
    first(lines, "drop compute pool", "done in")
    assert "FutureWarning" not in stderr


CONFTEST = """
import pytest
from spcs_emulator.emulator import Emulator
from milvus_spcs.target import EmulatorTarget
from tests.emulator.fakes import FakeHandle, FakeIngress, FakeRuntime

class MilvusFailsRuntime(FakeRuntime):
    # Milvus's container has crashed three times: the service goes FAILED.
    def launch(self, launch):
        handle = super().launch(launch)
        if launch.container == "milvus" and {fail_milvus}:
            handle.state, handle.restarts = "FAILED", 3
        return handle


@pytest.fixture(scope="session")
def spcs_target():
    with Emulator(
        runtime=MilvusFailsRuntime(), ingress=FakeIngress(), profile="realistic", time_scale={scale}
    ) as emu:
        yield EmulatorTarget("test emulator", emu.connection_parameters())
"""

SUITE = """
def test_stack_is_up(spcs_stack):
    assert spcs_stack.ingress_host
"""
FAILING_SUITE = """
def test_search_finds_turing(spcs_stack):
    assert "Turing" == "Lovelace"
"""


def run_pytest(
    tmp_path: Path, *args: str, fail_milvus: bool = False, suite: str = SUITE
) -> tuple[int, list[Line], str]:
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(CONFTEST).format(fail_milvus=fail_milvus, scale=TIME_SCALE)
    )
    (tmp_path / "test_suite.py").write_text(suite)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}", "COLUMNS": "200"}
    env.pop("MILVUS_SPCS_PROGRESS", None)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)]
    command += ["--artifacts-dir", str(tmp_path / "artifacts"), *args, "test_suite.py"]
    return run_streaming(command, env, tmp_path)


def test_pytest_shows_progress_without_s_and_writes_timeline_and_usage(tmp_path: Path) -> None:
    code, lines, stderr = run_pytest(tmp_path, "--run-id", "prg002")
    assert code == 0, "\n".join(line.text for line in lines[-40:]) + stderr[-2000:]
    assert_progress_arrived_during_provisioning(lines)
    assert first(lines, "teardown").at < lines[-1].at
    first(lines, "usage: node-minutes CPU_X64_XS=")

    folder = tmp_path / "artifacts" / "prg002"
    assert (folder / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    timeline = json.loads((folder / "timeline.json").read_text())
    provisioned = [bar for bar in timeline["bars"] if bar["phase"] == "provisioning"]
    assert sorted(bar["step"] for bar in provisioned) == sorted(step.name for step in STACK_STEPS)
    for bar in provisioned:
        assert bar["status"] == "done"
        assert bar["start"] <= (bar["wait_start"] or bar["start"]) <= bar["end"]
    by_step = {bar["step"]: bar for bar in provisioned}
    for step in STACK_STEPS:  # nothing started before what it needs had ended
        assert all(by_step[need]["end"] <= by_step[step.name]["start"] for need in step.after)
    assert [s["state"] for s in by_step["pool_milvus"]["states"]][-1].startswith(("IDLE", "ACTIVE"))
    critical = timeline["critical_path"]["steps"]
    assert critical[-1] == "endpoint_access"  # the ingress URL ends provisioning
    assert {bar["step"] for bar in provisioned if bar["critical"]} == set(critical)
    undone = {bar["step"] for bar in timeline["bars"] if bar["phase"] == "teardown"}
    assert {step.name for step in STACK_STEPS if step.undoable} <= undone

    usage = json.loads((folder / "usage.json").read_text())
    pools = {pool["name"]: pool for pool in usage["compute_pools"]}
    assert set(pools) == {"MILVUS_SPCS_PRG002_MILVUS_POOL", "MILVUS_SPCS_PRG002_JUPYTER_POOL"}
    for pool in pools.values():
        step = "pool_milvus" if "MILVUS_POOL" in pool["name"] else "pool_jupyter"
        made = by_step[step]
        dropped = next(b for b in timeline["bars"] if b["phase"] == "teardown" and b["step"] == step)
        assert (pool["created_at"], pool["dropped_at"]) == (made["wait_start"], dropped["end"])
        assert (pool["instance_family"], pool["nodes"]) == ("CPU_X64_XS", 1)
        assert pool["node_minutes"] == pytest.approx(pool["seconds"] / 60, abs=1e-3)
        assert not pool["still_there"]
    assert usage["node_minutes_by_instance_family"]["CPU_X64_XS"] == pytest.approx(
        sum(p["node_minutes"] for p in pools.values()), abs=1e-3
    )
    assert usage["warehouse"]["running_seconds"] == 0  # created suspended, never used
    assert usage["objects_created"]["by_kind"]["compute pool"] == 2
    assert usage["objects_created"]["by_kind"]["service"] == 2
    assert usage["backup_snapshots_kept"] == []  # the Milvus spec opts out of billed backups (BCR-2206)


def test_pytest_q_shows_no_progress(tmp_path: Path) -> None:
    code, lines, _ = run_pytest(tmp_path, "-q", "--run-id", "prg003")
    assert code == 0
    assert not [line for line in lines if "STARTING" in line.text or "waiting for" in line.text]


def test_a_failing_service_is_explained_in_the_pytest_report(tmp_path: Path) -> None:
    code, lines, _ = run_pytest(tmp_path, "--run-id", "prg004", fail_milvus=True)
    output = "\n".join(line.text for line in lines)
    assert code != 0
    assert "service MILVUS_SPCS_PRG004_DB.PUBLIC.MILVUS: status=FAILED" in output
    assert "container milvus: FAILED, restarts 3" in output
    assert "| current log of milvus" in output  # its last log lines
    assert f"full diagnostics: {tmp_path / 'artifacts' / 'prg004' / 'diagnostics'}/" in output
    first(lines, "service_milvus", "FAILED")  # the progress line too


def test_a_failing_test_on_the_stack_shows_the_services_in_its_report(tmp_path: Path) -> None:
    code, lines, _ = run_pytest(tmp_path, "--run-id", "prg005", suite=FAILING_SUITE)
    output = "\n".join(line.text for line in lines)
    assert code == 1
    section = output[output.index("milvus-spcs services") :]
    assert "service MILVUS_SPCS_PRG005_DB.PUBLIC.MILVUS: status=RUNNING" in section
    assert "| current log of jupyter" in section
    folder = tmp_path / "artifacts" / "prg005" / "diagnostics" / "test_search_finds_turing"
    assert f"full diagnostics: {folder}/" in section
    assert (folder / "milvus.txt").is_file()
