from __future__ import annotations

import pytest

from milvus_spcs.errors import WaitTimeout
from milvus_spcs.waits import Probe, wait_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_returns_the_value_once_done() -> None:
    clock = FakeClock()
    states = iter([Probe(False, state="PENDING"), Probe(False, state="PENDING"), Probe(True, value="url")])
    assert (
        wait_for(lambda: next(states), what="x", timeout=10, interval=1, clock=clock, sleep=clock.sleep)
        == "url"
    )
    assert clock.now == 2


def test_timeout_names_what_and_the_last_state() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as info:
        wait_for(
            lambda: Probe(False, state="STARTING"),
            what="pool P to be IDLE",
            timeout=3,
            interval=1,
            clock=clock,
            sleep=clock.sleep,
        )
    assert "pool P to be IDLE" in str(info.value)
    assert "last state: STARTING" in str(info.value)
    assert info.value.attempts == 4
    assert clock.now == 3


def test_transient_errors_are_retried_and_reported() -> None:
    clock = FakeClock()

    def refuse() -> Probe[None]:
        raise ConnectionRefusedError("refused")

    with pytest.raises(WaitTimeout, match="ConnectionRefusedError: refused"):
        wait_for(
            refuse,
            what="x",
            timeout=2,
            interval=1,
            transient=(ConnectionError,),
            clock=clock,
            sleep=clock.sleep,
        )


def test_other_errors_fail_at_once() -> None:
    clock = FakeClock()
    calls = []

    def broken() -> Probe[None]:
        calls.append(1)
        raise KeyError("bad spec")

    with pytest.raises(KeyError):
        wait_for(
            broken,
            what="x",
            timeout=100,
            interval=1,
            transient=(ConnectionError,),
            clock=clock,
            sleep=clock.sleep,
        )
    assert calls == [1]


@pytest.mark.parametrize(("timeout", "interval"), [(0, 1), (1, 0), (-1, 1)])
def test_deadline_and_interval_must_be_positive(timeout: float, interval: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        wait_for(lambda: Probe(True), what="x", timeout=timeout, interval=interval)


def test_cancellation_ends_a_wait_at_once() -> None:
    import threading

    from milvus_spcs.waits import WaitCancelled

    cancelled = threading.Event()

    def check() -> Probe[None]:
        cancelled.set()  # e.g. SIGTERM arrives during the first check
        return Probe(False, state="STARTING")

    with pytest.raises(WaitCancelled, match="last state: STARTING"):
        wait_for(check, what="pool", timeout=900, interval=60, cancelled=cancelled)
