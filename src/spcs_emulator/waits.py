"""Deadline-bound polling for the emulator: the only module of ``spcs_emulator`` allowed to sleep.

The emulator is a package of its own (it does not import the harness), so it keeps its own small wait:
it checks a condition until it holds or the deadline passes, and a timeout says what it waited for and
the last state it saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class WaitTimeout(Exception):
    """A wait ran out of time; says what it waited for and the last state it saw."""

    def __init__(self, what: str, timeout: float, last_state: str, attempts: int) -> None:
        self.what = what
        self.timeout = timeout
        self.last_state = last_state
        self.attempts = attempts
        super().__init__(
            f"timed out after {timeout:.1f}s ({attempts} checks) waiting for {what}; last state: {last_state}"
        )


@dataclass(frozen=True)
class Probe(Generic[T]):
    """One observation: ``done`` says whether to stop, ``value`` is returned, ``state`` is reported."""

    done: bool
    value: T | None = None
    state: str = ""


def wait_for(
    check: Callable[[], Probe[T]],
    *,
    what: str,
    timeout: float,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T | None:
    """Poll ``check`` until it reports done (its value is returned); raise :class:`WaitTimeout` at the
    deadline."""
    if timeout <= 0 or interval <= 0:
        raise ValueError(f"timeout and interval must be positive (got {timeout}, {interval})")
    deadline = clock() + timeout
    attempts = 0
    while True:
        attempts += 1
        probe = check()
        if probe.done:
            return probe.value
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(what, timeout, probe.state or "not ready", attempts)
        sleep(min(interval, remaining))
