"""Teardown starts at once and finishes whatever happens: a failed step cancels the other steps'
waits (pools would bill until the longest deadline), and repeated SIGINT/SIGTERM during teardown
(what a CI cancel sends) neither cut the undo short nor leave the self-started emulator running."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from milvus_spcs.stack.executor import Record, StepFailed, execute
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
