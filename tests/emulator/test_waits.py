"""The emulator's own deadline-bound wait (spcs_emulator/waits.py), and that the emulator stands alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from spcs_emulator.waits import Probe, WaitTimeout, wait_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_returns_the_value_once_done() -> None:
    clock = FakeClock()
    states = iter([Probe(False, state="PENDING"), Probe(True, value=7)])
    assert (
        wait_for(lambda: next(states), what="x", timeout=5, interval=1, clock=clock, sleep=clock.sleep) == 7
    )
    assert clock.now == 1


def test_timeout_says_what_it_waited_for_and_the_last_state() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as info:
        wait_for(
            lambda: Probe(False, state="still running: [42]"),
            what="exit of process tree 42",
            timeout=2,
            interval=0.5,
            clock=clock,
            sleep=clock.sleep,
        )
    assert info.value.what == "exit of process tree 42"
    assert info.value.last_state == "still running: [42]"
    assert "timed out after 2.0s (5 checks) waiting for exit of process tree 42" in str(info.value)


def test_a_non_positive_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        wait_for(lambda: Probe(True), what="x", timeout=0)


def test_the_emulator_imports_nothing_of_the_harness() -> None:
    """spcs_emulator is a package of its own: importing all of it loads no milvus_spcs module."""
    code = (
        "import sys, spcs_emulator.emulator, spcs_emulator.spcs.runtime, spcs_emulator.spcs.ingress\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'milvus_spcs'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
