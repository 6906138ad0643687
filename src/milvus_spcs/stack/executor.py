"""Run a plan: every step as soon as its dependencies are done, on a small thread pool.

On the first failure nothing new starts and ``cancelled`` is set, so that the running steps' waits stop
at once (a pool's wait would otherwise hold the teardown until its deadline while the pools bill); the
error names the failed step. What completed is recorded so that the caller can undo it in reverse
order (teardown.py).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from milvus_spcs.errors import HarnessError
from milvus_spcs.stack.plan import Plan, Step, critical_path
from milvus_spcs.stack.progress import NoProgress, Progress, ProgressEvent

log = logging.getLogger(__name__)


class StepFailed(HarnessError):
    def __init__(self, step: str, cause: BaseException) -> None:
        self.step = step
        self.cause = cause
        super().__init__(f"provisioning step {step!r} failed: {type(cause).__name__}: {cause}")


class Interrupted(HarnessError):
    """Provisioning was cancelled (SIGINT/SIGTERM) before it finished."""


@dataclass
class ExecutionRecord:
    """What executing a plan did: the steps started, those completed (in completion order), how long
    each took and the wall time. Teardown undoes what it lists; the summary compares wall time with the
    critical path."""

    completed: list[Step] = field(default_factory=list)
    started: list[Step] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0

    def summary(self, plan: Plan) -> str:
        length, _ = critical_path(plan.steps, self.durations)
        ratio = self.wall / length if length > 0 else float("nan")
        return f"provisioning: wall={self.wall:.2f} critical_path={length:.2f} ratio={ratio:.3f}"


def execute(
    plan: Plan,
    record: ExecutionRecord,
    *,
    workers: int = 4,
    cancelled: threading.Event | None = None,
    progress: Progress | None = None,
) -> ExecutionRecord:
    """Run ``plan`` into ``record``; ``progress`` hears each step start and end (a step's wait reports
    its own states)."""
    cancelled = cancelled or threading.Event()
    progress = progress or NoProgress()
    steps = plan.by_name()
    done: set[str] = set()
    running: dict[Future[float], Step] = {}
    failure: StepFailed | None = None
    started_at = time.monotonic()

    def run(step: Step) -> float:
        begin = time.monotonic()
        step.run()
        if step.wait is not None:
            step.wait()
        return time.monotonic() - begin

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="step") as pool:
        while True:
            if failure is None and not cancelled.is_set():
                for step in plan.steps:
                    pending = step.name not in done and step not in running.values()
                    if pending and step not in record.started and set(step.after) <= done:
                        record.started.append(step)
                        progress.emit(ProgressEvent.now(step.name, "start", step.description))
                        running[pool.submit(run, step)] = step
            if not running:
                break
            finished, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                step = running.pop(future)
                try:
                    record.durations[step.name] = future.result()
                except BaseException as exc:  # recorded and re-raised as StepFailed below
                    log.error("step %s failed: %s", step.name, exc)
                    progress.emit(ProgressEvent.now(step.name, "failed", f"{type(exc).__name__}: {exc}"))
                    record.completed.append(step)  # a half-done step is undone too (undos use IF EXISTS)
                    failure = failure or StepFailed(step.name, exc)
                    cancelled.set()  # the other waits stop now: teardown comes next
                    continue
                done.add(step.name)
                record.completed.append(step)
                progress.emit(ProgressEvent.now(step.name, "done"))
    record.wall = time.monotonic() - started_at
    if failure is not None:
        raise failure
    if cancelled.is_set() and len(done) < len(steps):
        raise Interrupted(f"provisioning interrupted after {sorted(done)}")
    return record
