"""Teardown starts at once and finishes whatever happens: a failed step cancels the other steps'
waits (pools would bill until the longest deadline), and repeated SIGINT/SIGTERM during teardown
(what a CI cancel sends) neither cut the undo short nor leave the self-started emulator running."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from milvus_spcs.naming import check_run_id
from milvus_spcs.paths import REPO_ROOT
from milvus_spcs.stack.executor import Record, StepFailed, execute
from milvus_spcs.stack.janitor import parse_duration
from milvus_spcs.stack.plan import Plan, Step
from milvus_spcs.stack.run import provisioned_stack
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.test_stack_reliability import config, leftovers, target_of

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
    record = Record()
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
        emu.account.faults.fail_statement(r"^CREATE USER", message="Injected failure at role_and_user.")
        began = time.monotonic()
        with (
            pytest.raises(StepFailed, match="role_and_user"),
            provisioned_stack(target_of(emu), config(tmp_path, "cnl001"), report=print),
        ):
            pass
        elapsed = time.monotonic() - began
        assert elapsed < 8.0, f"teardown finished only after {elapsed:.1f}s: it waited for the pools"
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
