"""Where the time of a ``pytest -m spcs`` run goes, and how much of it is harness overhead.

Runs the SPCS suites in this process against the self-started emulator (instant profile), with timers
around each phase: emulator start and stop, provisioning, teardown, the Jupyter kernels (start, the
notebook's imports, its model load and demo as the notebook itself reports them, the scale
benchmark's measuring cell, the suites' other cells) and the suspend/resume waits. The emulator's
container supervisors report when each container was spawned and when it first answered its
readiness probe: that start-up time (Milvus, Jupyter) is cut out of the phase that waited for it.
Irreducible: the services' own start-up (the longer of two starting side by side counts once), the
notebook's model load (importing the inference stack and reading the weights) and demo (embedding
and Milvus operations), as in ``bench.local_path``, and the scale benchmark's own work in the kernel
(what ``suites/spcs/test_scale.py`` runs to measure Milvus). Everything else (SQL round trips,
polling, kernel start-up, imports, container stops, pytest) is overhead.
Usage: ``python -m bench.spcs_path [--report FILE] [pytest args...]``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

from bench.local_path import ExclusiveTimers, breakdown

REPORT = Path(__file__).parent / "reports" / "spcs_path.md"
SUITE_CELLS = "suite cells: imports, Milvus calls (and waits)"
NOTEBOOK_TRIPS = "kernel round trips"
SCALE_BENCHMARK = "scale benchmark in the kernel (Milvus and numpy)"
# The upgrade suite starts a second Milvus and upgrades it: a check of Milvus on its volume, not a step
# of the path whose overhead this measures (its own time is in pytest's report).
SKIPPED = ("--ignore=suites/spcs/test_upgrade.py",)
IRREDUCIBLE = ("service start-up", "notebook model load", "notebook demo", SCALE_BENCHMARK)
Interval = tuple[float, float]
WHAT_COUNTS = (
    "Irreducible: the services' own start-up (spawn to first ready probe; Milvus and Jupyter side by "
    "side count once, Milvus again after RESUME), the notebook's model load and demo as it reports "
    "them, and the scale benchmark's measuring cell in the kernel (ingest, index builds, searches and "
    "the numpy baseline: the work `test_scale.py` exists to measure). Overhead: everything else: the "
    "suites' own cells (imports, Milvus calls, and after a resume Milvus recovering its loaded "
    "collection while the stopped instance's sessions expire), SQL and polling (provisioning, "
    "suspend/resume, teardown), kernels (start, shutdown, round trips through the ingress), the scale "
    "workload and its upload, imports, container stops, emulator start/stop, pytest and fixtures."
)


class ContainerStarts:
    """Spawn-to-ready intervals of the emulator's containers, recorded from their supervisor threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spawned: dict[int, float] = {}  # id(plan) -> when its run was being spawned
        self.intervals: list[Interval] = []

    def spawn(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(container: Any) -> Any:
            started = time.perf_counter()
            plan = func(container)
            if plan is not None:
                with self._lock:
                    self._spawned[id(plan)] = started
            return plan

        return timed

    def readiness(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def probed(plan: Any, *args: Any, **kwargs: Any) -> Any:
            ready, message = func(plan, *args, **kwargs)
            if ready:
                with self._lock:
                    started = self._spawned.pop(id(plan), None)
                    if started is not None:
                        self.intervals.append((started, time.perf_counter()))
            return ready, message

        return probed

    def within(self, windows: list[Interval]) -> float:
        """Seconds of the windows covered by at least one start-up (parallel start-ups count once)."""
        covered = 0.0
        for low, high in windows:
            clipped = sorted((max(a, low), min(b, high)) for a, b in self.intervals if b > low and a < high)
            end = low
            for a, b in clipped:
                covered += max(0.0, b - max(a, end))
                end = max(end, b)
        return covered


class Windows:
    """When a phase ran (perf_counter intervals), besides its exclusive seconds in the timers."""

    def __init__(self) -> None:
        self.of: dict[str, list[Interval]] = {}

    def wrap(self, category: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def windowed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.of.setdefault(category, []).append((started, time.perf_counter()))

        return windowed


class KernelClock:
    """The kernel's own execution time of each cell: its status busy -> idle messages' header dates.

    Stands in for ``json`` in ``milvus_spcs.jupyter_client``: the client's request (``dumps``) names the
    cell's msg_id, and every message it reads (``loads``) passes through here unchanged."""

    def __init__(self) -> None:
        self.msg_id = ""
        self.busy: datetime | None = None
        self.idle: datetime | None = None

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if isinstance(obj, dict) and obj.get("header", {}).get("msg_type") == "execute_request":
            self.msg_id, self.busy, self.idle = obj["header"]["msg_id"], None, None
        return json.dumps(obj, **kwargs)

    def loads(self, text: Any, **kwargs: Any) -> Any:
        message = json.loads(text, **kwargs)
        mine = isinstance(message, dict) and message.get("parent_header", {}).get("msg_id") == self.msg_id
        if mine and message.get("msg_type") == "status":
            when = datetime.fromisoformat(message["header"]["date"].replace("Z", "+00:00"))
            state = message["content"]["execution_state"]
            if state == "busy":
                self.busy = when
            elif state == "idle":
                self.idle = when
        return message

    def executed(self) -> float:
        if self.busy is None or self.idle is None:
            return 0.0
        return (self.idle - self.busy).total_seconds()


class KernelCells:
    """An instrumented ``JupyterOverIngress._execute``: each cell's round trip, by what the cell does.

    Of a cell's round trip, the kernel's own execution time (``KernelClock``) is the cell's work; the
    rest is the trip through the ingress and Jupyter, and for a kernel's first cell the wait for the
    kernel to come up. The work counts by cell: the notebook's imports as kernel imports, its model
    load and demo as it reports them (``account_notebook``), the scale benchmark's measuring cell as
    the benchmark itself (Milvus ingest, index builds and searches, and the numpy baseline it is
    compared with), the suites' other cells (their imports and Milvus calls, and after a resume
    Milvus recovering its loaded collection) as overhead."""

    def __init__(self, timers: ExclusiveTimers) -> None:
        self.timers = timers
        self.clock = KernelClock()
        self.kernels_seen: set[str] = set()

    def category(self, code: str) -> str:
        from milvus_spcs.bench.in_kernel import MODULE, RESULT_PREFIX

        if code.startswith("import os\nos.environ['MILVUS_COLLECTION']"):
            return NOTEBOOK_TRIPS  # run_notebook's setup
        if "default_embedder()" in code or "run_demo(" in code or "summary = {" in code:
            return NOTEBOOK_TRIPS  # its own timings move out (account_notebook)
        if "GUIDE_DOCUMENTS" in code or f"sys.modules[{MODULE!r}]" in code:
            return "kernel imports"  # the notebook's imports and connection; the benchmark's module
        if RESULT_PREFIX in code:
            return SCALE_BENCHMARK
        return SUITE_CELLS

    def execute(self) -> Callable[..., Any]:
        from milvus_spcs.jupyter_client import JupyterOverIngress

        original = JupyterOverIngress._execute

        async def execute(this: Any, session: Any, kernel: str, code: str) -> str:
            started = time.perf_counter()
            out = await original(this, session, kernel, code)
            elapsed = time.perf_counter() - started
            executed = min(self.clock.executed(), elapsed)
            trip = (
                "kernel start: its first answer" if kernel not in self.kernels_seen else "kernel round trips"
            )
            self.kernels_seen.add(kernel)
            self.timers.record(trip, elapsed - executed)
            self.timers.record(self.category(code), executed)
            return out

        return execute


def account_notebook(timers: ExclusiveTimers, func: Callable[..., Any]) -> Callable[..., Any]:
    """run_notebook: the notebook's own model-load and demo seconds move out of its cells' round trips."""

    @functools.wraps(func)
    def accounted(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        timers.seconds["notebook model load"] += result["seconds"]["model_load"]
        timers.seconds["notebook demo"] += result["seconds"]["demo"]
        timers.seconds[NOTEBOOK_TRIPS] -= sum(result["seconds"].values())
        return result

    return accounted


class LifecycleWaits:
    """A pytest plugin: the lifecycle test's suspend and resume waits are timed as such."""

    def __init__(self, timers: ExclusiveTimers, windows: Windows) -> None:
        self.timers = timers
        self.windows = windows

    @staticmethod
    def _module(item: Any) -> Any:
        return getattr(item, "module", None)

    def pytest_runtest_call(self, item: Any) -> Any:
        module = self._module(item)
        if module is not None and hasattr(module, "wait_status") and not hasattr(module, "_bench_timed"):
            timed = self.timers.wrap("suspend/resume", module.wait_status)
            module.wait_status = self.windows.wrap("suspend/resume", timed)
            module._bench_timed = True


@contextlib.contextmanager
def instrumented(
    timers: ExclusiveTimers, windows: Windows, starts: ContainerStarts, cells: KernelCells
) -> Iterator[None]:
    from milvus_spcs import jupyter_client
    from milvus_spcs.bench import workload
    from milvus_spcs.jupyter_client import BackgroundShutdowns, JupyterOverIngress, Kernel
    from milvus_spcs.stack import executor, run
    from spcs_emulator.emulator import Emulator
    from spcs_emulator.spcs import runtime

    def timed(category: str, func: Callable[..., Any]) -> Callable[..., Any]:
        return windows.wrap(category, timers.wrap(category, func))

    patches: list[Any] = [
        mock.patch.object(Emulator, "start", timed("emulator start and stop", Emulator.start)),
        mock.patch.object(Emulator, "stop", timed("emulator start and stop", Emulator.stop)),
        mock.patch.object(run, "execute", timed("provisioning", executor.execute)),
        mock.patch.object(run, "tear_down", timed("teardown", run.tear_down)),
        mock.patch.object(JupyterOverIngress, "_execute", cells.execute()),
        mock.patch.object(jupyter_client, "json", cells.clock),
        mock.patch.object(
            JupyterOverIngress,
            "start_kernel",
            timed("kernel start: POST", JupyterOverIngress.start_kernel),
        ),
        mock.patch.object(
            JupyterOverIngress,
            "shutdown_kernel",
            timed("kernel shutdown", JupyterOverIngress.shutdown_kernel),
        ),
        # A background shutdown overlaps other work: only the wait for it at the end counts.
        mock.patch.object(BackgroundShutdowns, "wait", timed("kernel shutdown", BackgroundShutdowns.wait)),
        mock.patch.object(Kernel, "run_notebook", account_notebook(timers, Kernel.run_notebook)),
        mock.patch.object(
            JupyterOverIngress, "upload", timed("scale data upload", JupyterOverIngress.upload)
        ),
        mock.patch.object(
            JupyterOverIngress, "delete", timed("scale data upload", JupyterOverIngress.delete)
        ),
        mock.patch.object(
            workload, "prepare", timed("scale workload (corpus, cached vectors, truth)", workload.prepare)
        ),
        mock.patch.object(runtime.LocalContainer, "_spawn", starts.spawn(runtime.LocalContainer._spawn)),
        mock.patch.object(runtime, "readiness", starts.readiness(runtime.readiness)),
    ]
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


def move_start_ups(timers: ExclusiveTimers, windows: Windows, starts: ContainerStarts) -> None:
    """The services' own start-up, out of the phases that waited for it."""
    for phase in ("provisioning", "suspend/resume"):
        seconds = min(starts.within(windows.of.get(phase, [])), timers.seconds.get(phase, 0.0))
        timers.seconds[phase] -= seconds
        timers.seconds["service start-up"] += seconds


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--report", type=Path, default=REPORT, help=f"where the report goes (default {REPORT})"
    )
    parser.add_argument(
        "--max-overhead", type=float, default=None, help="exit 1 when the overhead is above this percentage"
    )
    args, pytest_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    report: Path = args.report
    # As a default Python runs it: with its bytecode cache. A machine that sets PYTHONDONTWRITEBYTECODE
    # (this one does) would have every run compile the harness and rewrite the tests' asserts afresh.
    bytecode_cache = "on" if not sys.dont_write_bytecode else "on (PYTHONDONTWRITEBYTECODE ignored)"
    sys.dont_write_bytecode = False
    timers = ExclusiveTimers()
    windows = Windows()
    starts = ContainerStarts()
    cells = KernelCells(timers)
    import_started = time.perf_counter()
    import pytest

    import milvus_spcs.jupyter_client  # timed: what the harness imports before any work
    import milvus_spcs.stack.run  # noqa: F401

    timers.seconds["imports"] = time.perf_counter() - import_started
    with instrumented(timers, windows, starts, cells):
        code = pytest.main(
            ["-m", "spcs", "-q", "-p", "no:cacheprovider", *SKIPPED, *pytest_args],
            plugins=[LifecycleWaits(timers, windows)],
        )
    total = time.perf_counter() - started
    move_start_ups(timers, windows, starts)
    timers.seconds["pytest and fixtures (rest)"] = total - sum(timers.seconds.values())

    lines, summary = breakdown(
        timers.seconds, total, IRREDUCIBLE, phase="phase (emulator, instant)", name="spcs-run"
    )
    command = " ".join(["python -m bench.spcs_path", *(sys.argv[1:] if argv is None else argv)])
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        f"# SPCS run breakdown\n\n`{command}`" + " (`pytest -m spcs` on the self-started "
        f"emulator), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, pytest exit {code}, "
        f"Python's bytecode cache {bytecode_cache}\n\n"
        + "\n".join(lines)
        + f"\n\n`{summary}`\n\n{WHAT_COUNTS}\n"
    )
    overhead = 100.0 * (1 - sum(timers.seconds[k] for k in IRREDUCIBLE) / total)
    if code == 0 and args.max_overhead is not None and overhead > args.max_overhead:
        print(
            f"spcs-run: overhead {overhead:.1f}% is above --max-overhead {args.max_overhead:g}%",
            file=sys.stderr,
        )
        return 1
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
