"""Provisioning efficiency against the emulator's realistic profile (scaled down).

Runs the stack's plan twice on a fresh emulator: as the harness does (independent steps at once) and
as the guide does (one step after another), each followed by its teardown. Prints the harness's
summary line `provisioning: wall=<s> critical_path=<s> ratio=<wall/critical_path>` and how much
faster than the guide's order it is; the report embeds the harness run's timeline (Gantt chart, critical
path marked). Usage: python -m bench.provisioning [--time-scale 0.02]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from milvus_spcs.naming import StackNames, new_run_id
from milvus_spcs.stack.executor import ExecutionRecord, execute
from milvus_spcs.stack.plan import Plan
from milvus_spcs.stack.progress import NoProgress, Progress
from milvus_spcs.stack.spcs_plan import build_plan
from milvus_spcs.stack.teardown import undo_all
from milvus_spcs.stack.timeline import (
    PROVISIONING,
    TEARDOWN,
    TimelineRecorder,
    timeline_document,
    write_timeline,
)
from milvus_spcs.target import EmulatorTarget, Target
from spcs_emulator import Emulator

REPORT = Path(__file__).parent / "reports" / "provisioning.md"
TIMELINE = REPORT.parent / "provisioning-timeline"  # timeline.png and timeline.json, embedded in REPORT
GOAL_RATIO = 1.15


def provision_once(
    target: Target, workers: int, staging: Path, progress: Progress | None = None
) -> tuple[ExecutionRecord, Plan]:
    progress = progress or NoProgress()
    plan, _state = build_plan(target, StackNames(new_run_id()), staging_dir=staging, progress=progress)
    record = ExecutionRecord()
    try:
        with progress.phase(PROVISIONING):
            execute(plan, record, workers=workers, progress=progress)
    finally:
        with progress.phase(TEARDOWN):
            report = undo_all(record, progress=progress)
        if not report.clean:
            raise SystemExit(str(report))
    return record, plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--time-scale", type=float, default=0.02, help="shrinks the realistic profile's delays"
    )
    args = parser.parse_args(argv)
    staging = Path(tempfile.mkdtemp(prefix="bench-provisioning-"))
    with Emulator(
        profile="realistic", time_scale=args.time_scale, state_dir=staging / "emulator"
    ) as emulator:
        target = EmulatorTarget("bench emulator", emulator.connection_parameters())
        started = time.monotonic()
        recorder = TimelineRecorder()
        harness, plan = provision_once(target, workers=4, staging=staging, progress=recorder)
        guide, _ = provision_once(target, workers=1, staging=staging)
        total = time.monotonic() - started
    summary = harness.summary(plan)
    ratio = float(summary.rsplit("=", 1)[1])
    speedup = guide.wall / harness.wall
    rows = [
        "| order | wall (s) |",
        "|---|---:|",
        f"| harness (independent steps at once) | {harness.wall:.2f} |",
        f"| guide (one step after another) | {guide.wall:.2f} |",
        "",
        "| step | seconds (harness run) |",
        "|---|---:|",
        *(
            f"| {name} | {seconds:.2f} |"
            for name, seconds in sorted(harness.durations.items(), key=lambda kv: -kv[1])
        ),
    ]
    lines = [
        *rows,
        "",
        summary,
        f"guide-order: wall={guide.wall:.2f} speedup={speedup:.2f}x "
        f"(profile realistic, time scale {args.time_scale})",
        f"goal: ratio <= {GOAL_RATIO}: {'met' if ratio <= GOAL_RATIO else 'NOT met'}; "
        f"bench took {total:.1f}s",
    ]
    print("\n".join(lines))
    document = timeline_document(
        recorder, plan, harness, run_id="bench", target=f"emulator, realistic profile x{args.time_scale}"
    )
    write_timeline(TIMELINE, document)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    picture = (
        "## Timeline of the harness run\n\nDark: a step's statements; light: its wait (pool IDLE, service "
        "RUNNING, ingress URL); red outline: the critical path; grey rows: the teardown. Data: "
        f"[{TIMELINE.name}/timeline.json]({TIMELINE.name}/timeline.json).\n\n"
        f"![provisioning timeline]({TIMELINE.name}/timeline.png)\n"
    )
    REPORT.write_text(
        f"# Provisioning efficiency\n\n`python -m bench.provisioning --time-scale {args.time_scale}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n" + "\n".join(lines) + "\n\n" + picture
    )
    return 0 if ratio <= GOAL_RATIO and speedup > 1 else 1


if __name__ == "__main__":
    sys.exit(main())
