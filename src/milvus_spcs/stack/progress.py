"""What a run is doing, as it does it: events from the executor, the waits and the undos.

A wait on a real account lasts minutes (a pool ~4 min, the ingress 2-5 min); without these events the
user sees nothing until the end. Sinks decide how to show them: plain timestamped lines for CI logs
(progress_lines.py), a live table on a terminal (progress_live.py), the run's timeline (timeline.py).
Steps run on worker threads, so every sink must accept events from any thread.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

# start: the step's statements begin; wait: they are done and its wait begins; state: what the wait
# saw (on every poll: sinks drop repeats); done / failed: the step is over.
EventKind = Literal["start", "wait", "state", "done", "failed"]


@dataclass(frozen=True)
class ProgressEvent:
    step: str
    kind: EventKind
    at: float = 0.0  # time.monotonic() when it happened
    detail: str = ""  # the state seen ("STARTING"), what is waited for, or the failure
    deadline_left: float | None = None  # seconds until the wait gives up

    @classmethod
    def now(
        cls, step: str, kind: EventKind, detail: str = "", deadline_left: float | None = None
    ) -> ProgressEvent:
        return cls(step, kind, time.monotonic(), detail, deadline_left)


class Progress(Protocol):
    def phase(self, title: str) -> contextlib.AbstractContextManager[None]:
        """Provisioning, teardown, one run's removal: events arrive inside a phase."""

    def emit(self, event: ProgressEvent) -> None: ...


class NoProgress:
    """Shows nothing (pytest -q, or a caller that only wants the summary)."""

    @contextlib.contextmanager
    def phase(self, title: str) -> Iterator[None]:
        yield

    def emit(self, event: ProgressEvent) -> None:
        return None


class Fanout:
    """Every event to every sink (the user's display and the run's timeline)."""

    def __init__(self, sinks: Sequence[Progress]) -> None:
        self.sinks = list(sinks)

    @contextlib.contextmanager
    def phase(self, title: str) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for sink in self.sinks:
                stack.enter_context(sink.phase(title))
            yield

    def emit(self, event: ProgressEvent) -> None:
        for sink in self.sinks:
            sink.emit(event)


@contextlib.contextmanager
def reported_step(progress: Progress, step: str, detail: str = "") -> Iterator[None]:
    """start, then done or failed (with the error), around one piece of work that is not a plan step
    (an undo, the diagnostics, one teardown statement)."""
    progress.emit(ProgressEvent.now(step, "start", detail))
    try:
        yield
    except BaseException as exc:
        progress.emit(ProgressEvent.now(step, "failed", f"{type(exc).__name__}: {exc}"))
        raise
    progress.emit(ProgressEvent.now(step, "done"))
