"""Progress as a live table on a terminal (rich): one row per step, its state and the deadline left,
redrawn in place; the final table stays on screen when the phase ends."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table

from milvus_spcs.stack.progress import ProgressEvent

STYLES = {"running": "yellow", "waiting": "cyan", "done": "green", "failed": "bold red"}


@dataclass
class Row:
    started: float
    status: str = "running"
    state: str = ""
    ended: float | None = None
    deadline: float | None = None  # monotonic time the wait gives up


class LiveProgress:
    def __init__(self, console: Console, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.clock = clock
        self.lock = threading.Lock()
        self.title = ""
        self.phase_start = clock()
        self.rows: dict[str, Row] = {}

    @contextlib.contextmanager
    def phase(self, title: str) -> Iterator[None]:
        with self.lock:
            self.title, self.phase_start, self.rows = title, self.clock(), {}
        with Live(get_renderable=self.table, console=self.console, refresh_per_second=4, transient=False):
            yield

    def emit(self, event: ProgressEvent) -> None:
        with self.lock:
            if event.kind == "start":
                self.rows[event.step] = Row(started=event.at, state=event.detail)
                return
            row = self.rows.setdefault(event.step, Row(started=event.at))
            if event.kind == "wait":
                row.status, row.state = "waiting", event.detail
            elif event.kind == "state":
                row.state = event.detail
                if event.deadline_left is not None:
                    row.deadline = event.at + event.deadline_left
            else:
                row.status, row.ended, row.deadline = event.kind, event.at, None
                if event.kind == "failed":
                    row.state = event.detail

    def table(self) -> Table:
        now = self.clock()
        with self.lock:
            table = Table(title=f"{self.title}  +{now - self.phase_start:.0f}s", title_justify="left")
            for column in ("step", "status", "elapsed", "state", "deadline left"):
                table.add_column(column, overflow="fold")
            for name, row in self.rows.items():
                elapsed = (row.ended if row.ended is not None else now) - row.started
                left = "" if row.deadline is None else f"{max(row.deadline - now, 0):.0f}s"
                status = f"[{STYLES.get(row.status, '')}]{row.status}[/]"
                table.add_row(name, status, f"{elapsed:.1f}s", row.state, left)
        return table
