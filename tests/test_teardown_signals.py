"""Teardown starts at once and finishes whatever happens: a failed step cancels the other steps'
waits (pools would bill until the longest deadline), and repeated SIGINT/SIGTERM during teardown
(what a CI cancel sends) neither cut the undo short nor leave the self-started emulator running."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from milvus_spcs.errors import WaitTimeout
from milvus_spcs.naming import check_run_id
from milvus_spcs.paths import REPO_ROOT
from milvus_spcs.stack.executor import ExecutionRecord, StepFailed, execute
from milvus_spcs.stack.janitor import parse_duration
from milvus_spcs.stack.plan import Plan, Step
from milvus_spcs.stack.run import provisioned_stack
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.runs import config, leftovers, target_of

LONG_WAIT = 20.0  # what a step's wait would take without the cancel (on a real account: 900 s)


def test_a_failed_step_cancels_the_other_running_waits() -> None:
    cancelled = threading.Event()
    waiting = threading.Event()

    def slow_pool_wait() -> None:
        waiting.set()
        wait_for(
            lambda: Probe(False, state="STARTING"),
            what="a pool that takes long",
            timeout=LONG_WAIT,
            interval=0.1,
            cancelled=cancelled,
        )

    def failing_step() -> None:
        assert waiting.wait(5), "the pool's wait started"
        raise RuntimeError("CREATE USER failed")

    plan = Plan([Step("pool", lambda: None, wait=slow_pool_wait), Step("role", failing_step)])
    record = ExecutionRecord()
    began = time.monotonic()
    with pytest.raises(StepFailed, match="'role' failed"):
        execute(plan, record, cancelled=cancelled)
    elapsed = time.monotonic() - began
    assert elapsed < 3.0, f"teardown could start only after {elapsed:.1f}s (the wait's deadline)"
    assert cancelled.is_set()
    assert {s.name for s in record.completed} == {"pool", "role"}  # both are undone by the teardown


@pytest.mark.slow
def test_a_failed_step_on_the_emulator_starts_teardown_while_pools_still_start(tmp_path: Path) -> None:
    """Realistic timing: the pools take 24 s to start; the user fails at once. Teardown must not wait
    for the pools."""
    with Emulator(
        runtime=FakeRuntime(),
        ingress=FakeIngress(),
        state_dir=tmp_path / "emu",
        profile="realistic",
        time_scale=0.1,
    ) as emu:
        emu.account.state.faults.fail_statement(r"^CREATE USER", message="Injected failure at role_and_user.")
        began = time.monotonic()
        with (
            pytest.raises(StepFailed, match="role_and_user"),
            provisioned_stack(target_of(emu), config(tmp_path, "cnl001"), report=print),
        ):
            pass
        elapsed = time.monotonic() - began
        # Waiting for the pools takes 24 s; not waiting took 1-3 s, and 8.2 s once under a profiler's
        # load. The bound sits between the two.
        assert elapsed < 16.0, f"teardown finished only after {elapsed:.1f}s: it waited for the pools"
        assert leftovers(emu, "cnl001") == []


# -- the nightly workflow: a pinned run id, removed by a step that always runs ---------------------------

NIGHTLY = REPO_ROOT / ".github" / "workflows" / "nightly.yml"


def nightly_steps() -> list[dict]:
    return yaml.safe_load(NIGHTLY.read_text())["jobs"]["spcs"]["steps"]


def step_index(steps: list[dict], needle: str) -> int:
    found = [i for i, step in enumerate(steps) if needle in str(step.get("run", ""))]
    assert len(found) == 1, f"exactly one step runs {needle!r}: {found}"
    return found[0]


def test_nightly_pins_the_run_id_from_the_workflow_run(tmp_path: Path) -> None:
    steps = nightly_steps()
    pin = step_index(steps, "MILVUS_SPCS_RUN_ID=")
    assert pin < step_index(steps, "pytest -m spcs")
    # The pin's own script, run as Actions runs it: its id must be one check_run_id accepts.
    github_env = tmp_path / "github_env"
    env = {"PATH": os.environ["PATH"], "GITHUB_ENV": str(github_env)}
    for run_id, attempt in (("9876543210", "1"), ("12", "3")):
        subprocess.run(
            ["bash", "-e", "-c", steps[pin]["run"]],
            env={**env, "GITHUB_RUN_ID": run_id, "GITHUB_RUN_ATTEMPT": attempt},
            capture_output=True,
            text=True,
            check=True,
        )
        line = github_env.read_text().splitlines()[-1]
        key, _, value = line.partition("=")
        assert key == "MILVUS_SPCS_RUN_ID"
        assert check_run_id(value) == value
    pytest_run = steps[step_index(steps, "pytest -m spcs")]["run"]
    assert '--run-id "$MILVUS_SPCS_RUN_ID"' in pytest_run


def test_nightly_removes_its_run_in_a_step_that_always_runs() -> None:
    steps = nightly_steps()
    down = step_index(steps, "milvus-spcs down")
    assert steps[down].get("if") == "always()", "a failed or cancelled job must still remove its stack"
    assert '--run "$MILVUS_SPCS_RUN_ID"' in steps[down]["run"]
    assert down == step_index(steps, "pytest -m spcs") + 1, "removed right after the suites: pools bill"


def test_nightly_janitor_age_is_short_once_down_always_runs() -> None:
    steps = nightly_steps()
    janitor = steps[step_index(steps, "milvus-spcs janitor")]
    assert janitor.get("if") == "always()"
    age = re.search(r"--older-than (\S+)", janitor["run"])
    assert age is not None
    assert parse_duration(age[1]) <= dt.timedelta(hours=2)


# -- SIGINT then SIGTERM during teardown (a CI cancel), sent to a real pytest run -------------------------

INNER_TEST = """
def test_the_stack_is_up(spcs_stack):
    assert spcs_stack.ingress_host
"""
SIGTERMS = 150  # at most, 100 ms apart: more than a teardown takes here
STACK_TIMEOUT = 420.0  # a whole stack with real Milvus and Jupyter processes, on a busy 2-core machine


def processes_under(folder: Path) -> list[str]:
    """Live processes working in (or naming) ``folder``: the emulated containers of a run whose
    emulator keeps its state there."""
    prefix = str(folder.resolve())
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z" and (cwd.startswith(prefix) or prefix in cmdline):
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def wait_until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    wait_for(lambda: Probe(condition()), what=what, timeout=timeout, interval=0.05)


def inner_pytest(tmp_path: Path, run_id: str, **env: str) -> subprocess.Popen[str]:
    """A real `pytest` run that provisions the stack through the harness's own fixtures."""
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    environment = {
        **os.environ,
        "PYTHONPATH": f"{REPO_ROOT / 'src'}:{REPO_ROOT}",
        "MILVUS_SPCS_RUN_ID": run_id,
        "MILVUS_SPCS_ARTIFACTS": str(tmp_path / "artifacts"),
        **env,
    }
    if "MILVUS_SPCS_SNOWFLAKE_CONNECTION" not in env:
        environment.pop("MILVUS_SPCS_SNOWFLAKE_CONNECTION", None)
    # The harness's fixtures come from its pytest plugin (the installed package's entry point).
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "test_inner.py"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def cancel_during_teardown(proc: subprocess.Popen[str], run_folder: Path) -> str:
    """As CI cancels, but harder: SIGINT as soon as teardown starts, then SIGTERM every 100 ms until
    the run exits. Wherever a signal lands (in the diagnostics, between two undos, while the emulator
    stops) the teardown must go on. The run's output."""
    diagnostics = run_folder / "diagnostics"  # the first thing teardown creates
    wait_until(lambda: diagnostics.exists() or proc.poll() is not None, "teardown to start", STACK_TIMEOUT)
    assert proc.poll() is None, f"the run ended before its teardown:\n{proc.stdout.read()[-3000:]}"
    proc.send_signal(signal.SIGINT)
    with contextlib.suppress(WaitTimeout):  # SIGTERM follows anyway, as on CI
        wait_until(lambda: any(diagnostics.iterdir()) or proc.poll() is not None, "diagnostics", 3)
    terms = 0
    while proc.poll() is None and terms < SIGTERMS:
        proc.send_signal(signal.SIGTERM)
        terms += 1
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.1)
    try:
        output, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the run hangs after SIGINT and {terms} SIGTERM")
    return output


def assert_reported(run_folder: Path, run_id: str) -> None:
    report = (run_folder / "teardown.txt").read_text()
    assert report.startswith("teardown: removed 7 step(s): "), report
    for step in ("service_milvus", "service_jupyter", "pool_milvus", "pool_jupyter", "storage"):
        assert step in report
    assert f"nothing labelled run={run_id} remains" in report, report
    assert "signals during teardown: SIGINT" in report, report
    assert "SIGTERM" in report, report


@pytest.fixture
def self_started_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    """On a self-started emulator with real Milvus and Jupyter processes; its state (and so every
    container's directory) under the run's TMPDIR, where leftovers can be found."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = inner_pytest(tmp_path, "sig001", TMPDIR=str(temp))
    try:
        yield proc, temp, tmp_path / "artifacts" / "sig001"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for line in processes_under(temp):  # never leave the machine littered, whatever the outcome
            os.kill(int(line.split(":")[0]), signal.SIGKILL)


@pytest.mark.slow
def test_sigint_then_sigterms_during_teardown_finish_it_and_stop_the_self_started_emulator(
    self_started_run: tuple[subprocess.Popen[str], Path, Path],
) -> None:
    proc, temp, run_folder = self_started_run
    wait_until(lambda: bool(processes_under(temp)) or proc.poll() is not None, "containers", STACK_TIMEOUT)
    output = cancel_during_teardown(proc, run_folder)
    assert processes_under(temp) == [], f"left running:\n{processes_under(temp)}\n{output[-3000:]}"
    assert list(temp.glob("spcs-emulator-*")) == [], "the self-started emulator was stopped"
    assert_reported(run_folder, "sig001")
    assert "closed bundled emulator" in (run_folder / "teardown.txt").read_text()
    assert proc.returncode != 0, "a cancelled run does not pass"


@pytest.mark.slow
def test_sigint_then_sigterms_during_teardown_leave_no_object_on_a_named_emulator(tmp_path: Path) -> None:
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "emu") as emu:
        home = tmp_path / "snowflake-home"
        home.mkdir()
        (home / "connections.toml").write_text(emu.connections_toml("emu"))
        (home / "connections.toml").chmod(0o600)
        proc = inner_pytest(
            tmp_path, "sig002", SNOWFLAKE_HOME=str(home), MILVUS_SPCS_SNOWFLAKE_CONNECTION="emu"
        )
        try:
            cancel_during_teardown(proc, tmp_path / "artifacts" / "sig002")
        finally:
            if proc.poll() is None:
                proc.kill()
        assert leftovers(emu, "sig002") == []
        assert_reported(tmp_path / "artifacts" / "sig002", "sig002")
