"""Where the time of a ``pytest -m spcs`` run goes, and how much of it is harness overhead.

Runs the SPCS suites in this process against an emulator the bench starts (instant profile) and names
by ``--snowflake-connection``, as a user with a running emulator would. Nothing is patched: every
figure comes from what the run, the suites and the emulator publish.

- the bench's own clock: its imports, the emulator's start and stop;
- pytest's reports (a plugin's hooks): each test's setup, call and teardown, and the properties the
  suites record (``record_property``): the notebook's own model-load and demo seconds, the scale
  benchmark's seconds in the kernel;
- the run's timeline (``artifacts/<run>/timeline.json``, the harness's progress events): how long the
  provisioning and teardown phases took;
- the emulator's platform events (``<service>!SPCS_GET_EVENTS()``, read before the teardown drops the
  services): when each service instance was launched and when it was ready (its start-up), and when
  Milvus was suspended and running again.

Irreducible: the services' own start-up (the longer of two starting side by side counts once), the
notebook's model load and demo as it reports them, as in ``bench.local_path``, and the scale
benchmark's work in the kernel (what ``suites/spcs/test_scale.py`` runs to measure Milvus).
Everything else (SQL round trips, polling, kernel start-up, imports, container stops, pytest) is
overhead. Usage: ``python -m bench.spcs_path [--report FILE] [--max-overhead PCT] [pytest args...]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.local_path import breakdown

if TYPE_CHECKING:
    import pytest

    from milvus_spcs.config import HarnessConfig
    from milvus_spcs.stack.spcs_plan import StackState
    from milvus_spcs.stack.sql_runner import SqlRunner

REPORT = Path(__file__).parent / "reports" / "spcs_path.md"
CONNECTION = "bench"  # the bench's emulator, in its private SNOWFLAKE_HOME
SCALE_BENCHMARK = "scale benchmark in the kernel (Milvus and numpy)"
START_UP = "service start-up"
# What the suites record of their own work (suites/spcs: record_property), by category.
RECORDED = {
    "notebook_model_load_seconds": "notebook model load",
    "notebook_demo_seconds": "notebook demo",
    "scale_in_kernel_seconds": SCALE_BENCHMARK,
}
# The upgrade suite starts a second Milvus and upgrades it: a check of Milvus on its volume, not a step
# of the path whose overhead this measures (its own time is in pytest's report).
SKIPPED = ("--ignore=suites/spcs/test_upgrade.py",)
IRREDUCIBLE = (START_UP, "notebook model load", "notebook demo", SCALE_BENCHMARK)
Interval = tuple[float, float]
WHAT_COUNTS = (
    "Irreducible: the services' own start-up (from the instance's launch to its first READY, as the "
    "emulator's platform events tell; Milvus and Jupyter side by side count once, Milvus again after "
    "RESUME), the notebook's model load and demo as it reports them, and the scale benchmark's work in "
    "the kernel (ingest, index builds, searches and the numpy baseline: the work `test_scale.py` exists "
    "to measure). Overhead: everything else: SQL and polling (provisioning, suspend/resume, teardown), "
    "the tests' own work besides what they record (kernel round trips through the ingress, the suites' "
    "other cells, their imports and Milvus calls, and after a resume Milvus recovering its loaded "
    "collection), fixtures (sessions, kernels started and shut down, preflight, publishing the "
    "images), imports, emulator start/stop, pytest.\n\n"
    "Measured without patching the harness or the emulator, so some figures are coarser than cell "
    "level: the kernels' start-up, round trips and shutdown, the notebook's imports and the suites' own "
    "cells are no longer told apart (they are in the tests' own work and the fixtures' rows); the scale "
    "benchmark's seconds are what the test measures around `run_in_kernel`, so its kernel's start and "
    "shutdown and the data's upload (about a second in the last patched run) are folded into that "
    "irreducible row; a start-up's end is the control plane's next look after the ready probe (its "
    "tick, 0.1 s)."
)


def union(intervals: list[Interval]) -> float:
    """Seconds covered by at least one interval (overlapping ones count once)."""
    covered, end = 0.0, float("-inf")
    for low, high in sorted(intervals):
        covered += max(0.0, high - max(low, end))
        end = max(end, high)
    return covered


def clipped(intervals: list[Interval], window: Interval) -> list[Interval]:
    low, high = window
    return [(max(a, low), min(b, high)) for a, b in intervals if b > low and a < high]


def epoch(value: Any) -> float:
    """A TIMESTAMP_NTZ (UTC) as the connector returns it, in epoch seconds."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC).timestamp() if value.tzinfo is None else value.timestamp()
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC).timestamp()


class PlatformEvents:
    """What the emulator's platform events say of start-ups and of the suspend/resume."""

    def __init__(self) -> None:
        self.start_ups: list[Interval] = []  # an instance's launch (PENDING) to its READY
        self.suspend_resume: Interval | None = None  # SUSPENDING to RUNNING again, Milvus

    def add(self, rows: list[dict[str, Any]], *, lifecycle: bool) -> None:
        launched: dict[Any, float] = {}
        suspending: float | None = None
        resumed = False
        for row in sorted(rows, key=lambda r: epoch(r["TIMESTAMP"])):
            at, name = epoch(row["TIMESTAMP"]), row["EVENT_NAME"]
            details = row["EVENT_DETAILS"]
            status = (json.loads(details) if isinstance(details, str) else details)["status"]
            if name == "SERVICE_INSTANCE.STATUS_CHANGE":
                instance = row["INSTANCE_ID"]
                if status == "PENDING":
                    launched.setdefault(instance, at)
                elif status == "READY" and instance in launched:
                    self.start_ups.append((launched.pop(instance), at))
            elif lifecycle and name == "SERVICE.STATUS_CHANGE":
                if status == "SUSPENDING" and suspending is None:
                    suspending = at
                elif status == "RESUMING":
                    resumed = True
                elif status == "RUNNING" and resumed and suspending is not None and not self.suspend_resume:
                    self.suspend_resume = (suspending, at)


class SuiteClock:
    """A pytest plugin: each test's setup, call and teardown seconds, what the suites record of their own
    work, and the platform events of the stack's services, read before the teardown drops them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)  # setup | call | teardown
        self.recorded: dict[str, float] = defaultdict(float)  # category -> seconds the suites recorded
        self.events = PlatformEvents()
        self.run_artifacts: Path | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.when] += report.duration
        for name, value in report.user_properties if report.when == "call" else ():
            if name in RECORDED and isinstance(value, int | float):
                self.recorded[RECORDED[name]] += value

    def read_events(self, spcs_stack: StackState, spcs_sql: SqlRunner) -> None:
        names = spcs_stack.names
        for service in (names.milvus_service, names.jupyter_service):
            fqn = f"{names.database}.{names.schema}.{service}"
            rows = spcs_sql.query(f"SELECT * FROM TABLE({fqn}!SPCS_GET_EVENTS())")
            self.events.add(rows, lifecycle=service == names.milvus_service)


def session_fixtures(clock: SuiteClock) -> object:
    """A plugin object with two autouse session fixtures: where the run's records go, and the platform
    events, read at the end of the session. They need the stack, so they end before its teardown.
    (pytest collects fixtures from a plugin's class, so the class is made here, for this clock.)"""
    import pytest

    class Fixtures:
        @pytest.fixture(scope="session", autouse=True)
        def bench_run_artifacts(self, spcs_stack: StackState, harness_config: HarnessConfig) -> None:
            clock.run_artifacts = harness_config.run_artifacts

        @pytest.fixture(scope="session", autouse=True)
        def bench_platform_events(self, spcs_stack: StackState, spcs_sql: SqlRunner) -> Iterator[None]:
            yield
            clock.read_events(spcs_stack, spcs_sql)

    return Fixtures()


def timeline_phases(run_artifacts: Path | None) -> dict[str, float]:
    """Seconds of each phase of the run's timeline (provisioning, teardown), summed by title."""
    phases: dict[str, float] = defaultdict(float)
    if run_artifacts is None or not (run_artifacts / "timeline.json").is_file():
        return phases
    for phase in json.loads((run_artifacts / "timeline.json").read_text())["phases"]:
        if phase["end"] is not None:
            phases[phase["phase"]] += phase["end"] - phase["start"]
    return phases


def attribute(
    seconds: dict[str, float],
    clock: SuiteClock,
    phases: dict[str, float],
) -> None:
    """Split the tests' setup, call and teardown seconds into the report's categories."""
    events = clock.events
    window = events.suspend_resume
    resumed = clipped(events.start_ups, window) if window else []
    first = [s for s in events.start_ups if window is None or s[1] <= window[0]]
    provisioning, teardown = phases.get("provisioning", 0.0), phases.get("teardown", 0.0)
    start_ups = min(union(first), provisioning)
    seconds["provisioning"] = provisioning - start_ups
    suspend_resume = window[1] - window[0] if window else 0.0
    resume_start_up = min(union(resumed), suspend_resume)
    seconds["suspend/resume"] = suspend_resume - resume_start_up
    seconds[START_UP] = start_ups + resume_start_up
    seconds["teardown"] = teardown
    recorded = sum(clock.recorded.values())
    for category, value in clock.recorded.items():
        seconds[category] = value
    seconds["tests' own work: kernels, round trips, cells, SQL"] = (
        clock.seconds["call"] - recorded - suspend_resume
    )
    seconds["fixture setup: sessions, kernels, preflight, images"] = clock.seconds["setup"] - provisioning
    seconds["fixture teardown: kernel shutdowns, records"] = clock.seconds["teardown"] - teardown


def private_home() -> Path:
    """A SNOWFLAKE_HOME only this user can enter (mkdtemp: 0700): the admin password is in it."""
    return Path(tempfile.mkdtemp(prefix="bench-snowflake-home-"))


def write_private(path: Path, text: str) -> None:
    """Readable by this user only from the first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)


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
    seconds: dict[str, float] = defaultdict(float)
    home = private_home()
    artifacts = Path(tempfile.mkdtemp(prefix="bench-spcs-artifacts-"))
    # Before anything imports the connector: it reads SNOWFLAKE_HOME once.
    previous_home = os.environ.get("SNOWFLAKE_HOME")
    os.environ["SNOWFLAKE_HOME"] = str(home)
    try:
        import_started = time.perf_counter()
        from spcs_emulator import Emulator

        seconds["imports"] += time.perf_counter() - import_started
        emulator_started = time.perf_counter()
        # As the harness starts it when no connection is named (target.resolve_target).
        emulator = Emulator(registry=None).start()
        seconds["emulator start and stop"] += time.perf_counter() - emulator_started
        try:
            write_private(home / "connections.toml", emulator.connections_toml(CONNECTION))
            import_started = time.perf_counter()
            import pytest

            seconds["imports"] += time.perf_counter() - import_started
            clock = SuiteClock()
            code = pytest.main(
                [
                    "-m",
                    "spcs",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "--snowflake-connection",
                    CONNECTION,
                    f"--artifacts-dir={artifacts}",
                    *SKIPPED,
                    *pytest_args,
                ],
                plugins=[clock, session_fixtures(clock)],
            )
        finally:
            stopping = time.perf_counter()
            emulator.stop()
            seconds["emulator start and stop"] += time.perf_counter() - stopping
        phases = timeline_phases(clock.run_artifacts)
    finally:
        if previous_home is None:
            os.environ.pop("SNOWFLAKE_HOME", None)
        else:
            os.environ["SNOWFLAKE_HOME"] = previous_home
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(artifacts, ignore_errors=True)
    total = time.perf_counter() - started
    attribute(seconds, clock, phases)
    seconds["pytest: collection, reporting (rest)"] = total - sum(seconds.values())

    lines, summary = breakdown(
        seconds, total, IRREDUCIBLE, phase="phase (emulator, instant)", name="spcs-run"
    )
    command = " ".join(["python -m bench.spcs_path", *(sys.argv[1:] if argv is None else argv)])
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        f"# SPCS run breakdown\n\n`{command}`" + " (`pytest -m spcs` on an emulator the bench starts, "
        f"named by `--snowflake-connection`), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"pytest exit {code}, Python's bytecode cache {bytecode_cache}\n\n"
        + "\n".join(lines)
        + f"\n\n`{summary}`\n\n{WHAT_COUNTS}\n"
    )
    overhead = 100.0 * (1 - sum(seconds[k] for k in IRREDUCIBLE) / total)
    if code == 0 and args.max_overhead is not None and overhead > args.max_overhead:
        print(
            f"spcs-run: overhead {overhead:.1f}% is above --max-overhead {args.max_overhead:g}%",
            file=sys.stderr,
        )
        return 1
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
