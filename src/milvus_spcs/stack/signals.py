"""SIGINT and SIGTERM around a run: deferred while a phase of it must not be cut short, and SIGTERM
unwinding like Ctrl-C everywhere else.

A CI cancel sends SIGINT, then SIGTERM; an undo cut short leaves pools billing and containers running.
So a phase (provisioning, teardown) records the signals it receives and its caller decides when to
raise them."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

DEFERRED = (signal.SIGINT, signal.SIGTERM)


class DeferredSignals:
    """While entered, SIGINT/SIGTERM are recorded in ``received`` (and ``on_signal`` is called) instead
    of raising KeyboardInterrupt wherever the main thread happens to be; leaving restores the handlers
    and raises nothing. Main thread only (signal's rule); elsewhere signals reach the main thread
    anyway, and nothing is deferred."""

    def __init__(self, on_signal: Callable[[], None] = lambda: None) -> None:
        self.on_signal = on_signal
        self.received: list[int] = []
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> DeferredSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._record) for sig in DEFERRED}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous = {}

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        self.on_signal()

    def names(self) -> str:
        """'SIGINT, SIGTERM x2'."""
        counted = Counter(signal.Signals(signum).name for signum in self.received)
        return ", ".join(name if count == 1 else f"{name} x{count}" for name, count in counted.items())


def sigterm_as_keyboard_interrupt() -> None:
    """Let SIGTERM unwind like Ctrl-C, so that every finally (and pytest's fixture teardown) runs."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
