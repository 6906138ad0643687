"""Progress as plain timestamped lines, one per change: what a CI log (or any non-terminal) gets."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from milvus_spcs.stack.progress import ProgressEvent

# A state that does not change is repeated this often, so that a long wait never looks like a hang.
HEARTBEAT_SECONDS = 30.0
STEP_WIDTH = 16


def deadline_text(seconds: float | None) -> str:
    return "" if seconds is None else f" (deadline in {max(seconds, 0.0):.0f}s)"


class LineProgress:
    """Writes ``HH:MM:SS +elapsed step what`` through ``write`` (thread-safe)."""

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.write = write
        self.clock = clock
        self.wall = wall
        self.lock = threading.Lock()
        self.phase_start = clock()
        self.step_start: dict[str, float] = {}
        self.last_state: dict[str, tuple[str, float]] = {}  # step: (state, when it was last written)

    def line(self, step: str, text: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.gmtime(self.wall()))
        elapsed = self.clock() - self.phase_start
        self.write(f"{stamp} +{elapsed:6.1f}s  {step:<{STEP_WIDTH}} {text}".rstrip())

    @contextlib.contextmanager
    def phase(self, title: str) -> Iterator[None]:
        with self.lock:
            self.phase_start = self.clock()
            self.step_start.clear()
            self.last_state.clear()
            self.line("", f"== {title}")
        try:
            yield
        except BaseException:
            with self.lock:
                self.line("", f"== {title}: stopped by an error")
            raise
        with self.lock:
            self.line("", f"== {title}: finished")

    def emit(self, event: ProgressEvent) -> None:
        with self.lock:
            text = self.text(event)
            if text is not None:
                self.line(event.step, text)

    def text(self, event: ProgressEvent) -> str | None:
        """The line for ``event``, or None when it would repeat the last one too soon."""
        if event.kind == "start":
            self.step_start[event.step] = event.at
            return "started" + (f": {event.detail}" if event.detail else "")
        took = event.at - self.step_start.get(event.step, event.at)
        if event.kind == "wait":
            return f"waiting for {event.detail}"
        if event.kind == "done":
            return f"done in {took:.1f}s"
        if event.kind == "failed":
            first_line = next(iter(event.detail.splitlines()), "")  # the rest is in the report
            return f"FAILED after {took:.1f}s: {first_line}"
        seen = self.last_state.get(event.step)
        if seen is not None and seen[0] == event.detail and event.at - seen[1] < HEARTBEAT_SECONDS:
            return None
        self.last_state[event.step] = (event.detail, event.at)
        return f"{event.detail}{deadline_text(event.deadline_left)}"
