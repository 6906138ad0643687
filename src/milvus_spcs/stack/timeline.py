"""The run's timeline: when each step (and each undo) started, when its wait began, what states the
wait saw and when it ended, with the critical path marked. Written as artifacts/<run>/timeline.json;
timeline_chart.py draws it as timeline.png."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from milvus_spcs.stack.executor import ExecutionRecord
from milvus_spcs.stack.plan import Plan, critical_path
from milvus_spcs.stack.progress import ProgressEvent


@dataclass
class Bar:
    phase: str
    step: str
    start: float  # seconds since the run began
    end: float | None = None
    wait_start: float | None = None  # when its statements were done and its wait began
    status: str = "running"  # done, failed; running if the run ended first
    states: list[tuple[float, str]] = field(default_factory=list)  # each change the wait saw


class TimelineRecorder:
    """A progress sink that keeps every step's times (thread-safe)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.origin = clock()
        self.started_at = dt.datetime.now(dt.UTC)
        self.lock = threading.Lock()
        self.current_phase = ""
        self.bars: list[Bar] = []
        self.phases: list[tuple[str, float, float | None]] = []

    def seconds(self, at: float) -> float:
        return round(at - self.origin, 3)

    def now(self) -> float:
        return self.seconds(self.clock())

    @contextlib.contextmanager
    def phase(self, title: str) -> Iterator[None]:
        with self.lock:
            self.current_phase = title
            index = len(self.phases)
            self.phases.append((title, self.now(), None))
        try:
            yield
        finally:
            with self.lock:
                self.phases[index] = (title, self.phases[index][1], self.now())

    def bar(self, step: str) -> Bar | None:
        return next(
            (b for b in reversed(self.bars) if b.step == step and b.phase == self.current_phase), None
        )

    def emit(self, event: ProgressEvent) -> None:
        at = self.seconds(event.at)
        with self.lock:
            if event.kind == "start":
                self.bars.append(Bar(self.current_phase, event.step, at))
                return
            bar = self.bar(event.step)
            if bar is None:
                return
            if event.kind == "wait":
                bar.wait_start = at
            elif event.kind == "state":
                if not bar.states or bar.states[-1][1] != event.detail:
                    bar.states.append((at, event.detail))
            else:
                bar.end, bar.status = at, event.kind

    def bar_times(self, phase: str, step: str) -> Bar | None:
        with self.lock:
            return next((b for b in self.bars if b.phase == phase and b.step == step), None)


def timeline_document(
    recorder: TimelineRecorder, plan: Plan, record: ExecutionRecord, *, run_id: str, target: str
) -> dict[str, Any]:
    """What timeline.json holds: every bar, the plan's dependencies and its critical path."""
    length, path = critical_path(plan.steps, record.durations)
    after = {s.name: list(s.after) for s in plan.steps}
    with recorder.lock:
        bars = [
            {
                "phase": b.phase,
                "step": b.step,
                "start": b.start,
                "wait_start": b.wait_start,
                "end": b.end,
                "status": b.status,
                "critical": b.phase == PROVISIONING and b.step in path,
                "after": after.get(b.step, []) if b.phase == PROVISIONING else [],
                "states": [{"at": at, "state": state} for at, state in b.states],
            }
            for b in recorder.bars
        ]
        phases = [{"phase": title, "start": start, "end": end} for title, start, end in recorder.phases]
    return {
        "run_id": run_id,
        "target": target,
        "started_at": recorder.started_at.isoformat(timespec="seconds"),
        "provisioning_wall_seconds": round(record.wall, 3),
        "critical_path": {"steps": path, "seconds": round(length, 3)},
        "phases": phases,
        "bars": bars,
    }


PROVISIONING = "provisioning"
TEARDOWN = "teardown"


def write_timeline(folder: Path, document: dict[str, Any]) -> list[Path]:
    """timeline.json, and timeline.png (the picture is best effort: the JSON is the record)."""
    from milvus_spcs.stack.timeline_chart import draw_timeline

    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "timeline.json"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    png_path = folder / "timeline.png"
    draw_timeline(document, png_path)
    return [json_path, png_path]
