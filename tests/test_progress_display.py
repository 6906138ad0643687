"""The progress displays on their own: plain lines (CI), the live table (a terminal), which one a
stream gets, and the wait's report of every state it sees."""

from __future__ import annotations

import io
import re

from rich.console import Console

from milvus_spcs.stack.progress import NoProgress, ProgressEvent
from milvus_spcs.stack.progress_display import terminal_progress
from milvus_spcs.stack.progress_lines import HEARTBEAT_SECONDS, LineProgress
from milvus_spcs.stack.progress_live import LiveProgress
from milvus_spcs.waits import Probe, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_say_each_change_once_with_the_deadline_and_repeat_a_long_state() -> None:
    clock, written = Clock(), []
    progress = LineProgress(written.append, clock=clock, wall=lambda: 0.0)
    with progress.phase("provisioning"):
        progress.emit(ProgressEvent("pool", "start", 100.0, "06_compute_milvus.sql"))
        for at in (101.0, 101.5, 102.0):  # the same state, polled three times
            progress.emit(ProgressEvent("pool", "state", at, "STARTING", 299.0))
        progress.emit(ProgressEvent("pool", "state", 101.0 + HEARTBEAT_SECONDS, "STARTING", 269.0))
        progress.emit(ProgressEvent("pool", "state", 140.0, "IDLE", 260.0))
        progress.emit(ProgressEvent("pool", "done", 140.0))
        progress.emit(ProgressEvent("service", "failed", 141.0, "WaitFailed: FAILED\n--- last logs ---"))
    # After the time and the elapsed seconds, whitespace squeezed.
    texts = [" ".join(re.sub(r"^\S+ \+\s*\S+", "", line).split()) for line in written]
    assert texts == [
        "== provisioning",
        "pool started: 06_compute_milvus.sql",
        "pool STARTING (deadline in 299s)",
        "pool STARTING (deadline in 269s)",
        "pool IDLE (deadline in 260s)",
        "pool done in 40.0s",
        "service FAILED after 0.0s: WaitFailed: FAILED",
        "== provisioning: finished",
    ]
    assert written[0].startswith("00:00:00 +")


def test_the_live_table_shows_each_step_its_state_and_the_deadline_left() -> None:
    clock = Clock()
    out = io.StringIO()
    progress = LiveProgress(Console(file=out, force_terminal=True, width=140), clock=clock)
    with progress.phase("provisioning"):
        progress.emit(ProgressEvent("pool_milvus", "start", 100.0))
        progress.emit(ProgressEvent("pool_milvus", "wait", 100.5, "compute pool P to be IDLE"))
        progress.emit(ProgressEvent("pool_milvus", "state", 101.0, "STARTING", 299.0))
        clock.now = 110.0
        table = progress.table()
        progress.emit(ProgressEvent("service", "start", 110.0))
        progress.emit(ProgressEvent("service", "failed", 111.0, "WaitFailed: FAILED"))
    rendered = Console(file=io.StringIO(), width=140, record=True)
    rendered.print(table)
    text = rendered.export_text()
    assert "pool_milvus" in text
    assert "waiting" in text
    assert "STARTING" in text
    assert "290s" in text  # 299 s left at 101, now 110
    assert "FAILED" in out.getvalue()  # the final table stays on screen


def test_a_terminal_gets_the_live_table_a_pipe_lines_and_quiet_nothing() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    lines: list[str] = []
    assert isinstance(terminal_progress(lines.append, stream=Tty(), environ={}), LiveProgress)
    assert isinstance(terminal_progress(lines.append, stream=io.StringIO(), environ={}), LineProgress)
    assert isinstance(terminal_progress(lines.append, stream=None, environ={}), LineProgress)
    assert isinstance(terminal_progress(lines.append, stream=Tty(), quiet=True, environ={}), NoProgress)
    # pytest's capture hides the terminal from isatty: its reporter says whether there is one.
    told = terminal_progress(lines.append, stream=io.StringIO(), tty=True, environ={})
    assert isinstance(told, LiveProgress)
    plain = {"MILVUS_SPCS_PROGRESS": "plain"}
    assert isinstance(terminal_progress(lines.append, stream=Tty(), environ=plain), LineProgress)


def test_the_wait_reports_every_state_it_sees_the_last_one_included() -> None:
    states = iter(["STARTING", "STARTING", "IDLE"])
    seen: list[str] = []

    def probe() -> Probe[None]:
        state = next(states)
        return Probe(state == "IDLE", state=state)

    wait_for(probe, what="pool", timeout=10, interval=0.01, on_probe=lambda s, left: seen.append(s))
    assert seen == ["STARTING", "STARTING", "IDLE"]
