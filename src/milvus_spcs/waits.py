"""Deadline-bound polling. The only module allowed to sleep.

A wait checks a condition until it holds, the deadline passes, or the check raises an error that is
not on its transient whitelist (that error propagates at once: retrying a real failure only hides it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from milvus_spcs.errors import HarnessError, WaitTimeout


class WaitCancelled(HarnessError):
    """The run is being interrupted (SIGINT/SIGTERM): stop waiting now, teardown comes next."""


T = TypeVar("T")


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
    transient: tuple[type[BaseException], ...] = (),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,  # Event.wait fits too (its bool is ignored)
    cancelled: threading.Event | None = None,
    on_probe: Callable[[str, float], object] | None = None,
) -> T | None:
    """Poll ``check`` until it reports done; raise :class:`WaitTimeout` at the deadline, or
    :class:`WaitCancelled` as soon as ``cancelled`` is set.

    ``transient`` lists the exception types that mean "not yet" (e.g. connection refused while a
    server starts); they are recorded as the last state and polling continues.

    ``on_probe(state, seconds_left)`` is told what every check saw, the last one included (progress).
    """
    if timeout <= 0 or interval <= 0:
        raise ValueError(f"timeout and interval must be positive (got {timeout}, {interval})")
    deadline = clock() + timeout
    attempts = 0
    last_state = "not checked yet"
    if cancelled is not None:
        sleep = cancelled.wait  # an interrupt ends the pause at once
    while True:
        if cancelled is not None and cancelled.is_set():
            raise WaitCancelled(f"cancelled while waiting for {what}; last state: {last_state}")
        attempts += 1
        try:
            probe = check()
        except transient as exc:
            last_state = f"{type(exc).__name__}: {exc}"
        else:
            last_state = probe.state or ("done" if probe.done else "not ready")
            if probe.done:
                if on_probe is not None:
                    on_probe(last_state, deadline - clock())
                return probe.value
        remaining = deadline - clock()
        if on_probe is not None:
            on_probe(last_state, remaining)
        if remaining <= 0:
            raise WaitTimeout(what, timeout, last_state, attempts)
        sleep(min(interval, remaining))
