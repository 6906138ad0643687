"""Undo what a run created, newest first, collecting every failure instead of stopping at the first,
and report exactly what was removed, what was not, and what is still labelled with the run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from milvus_spcs.stack.executor import ExecutionRecord
from milvus_spcs.stack.progress import NoProgress, Progress, reported_step

log = logging.getLogger(__name__)


@dataclass
class TeardownReport:
    undone: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    # What still carries the run's label after the undos (None: not checked, or the check failed).
    remaining: list[str] | None = None
    remaining_error: str | None = None
    run_id: str = ""

    @property
    def clean(self) -> bool:
        return not self.failed and not self.remaining and self.remaining_error is None

    def __str__(self) -> str:
        lines = [f"teardown: removed {len(self.undone)} step(s)" + (": " if self.undone else "")]
        lines[0] += ", ".join(self.undone)
        if self.failed:
            lines.append(f"teardown left {len(self.failed)} step(s) not undone:")
            lines += [f"  - {name}: {error}" for name, error in self.failed.items()]
        if self.remaining_error is not None:
            lines.append(f"could not list what remains labelled run={self.run_id}: {self.remaining_error}")
        elif self.remaining == []:
            lines.append(f"nothing labelled run={self.run_id} remains")
        elif self.remaining:
            lines.append(f"still labelled run={self.run_id}: {', '.join(self.remaining)}")
        return "\n".join(lines)


def undo_all(
    record: ExecutionRecord,
    *,
    diagnostics: Callable[[], None] | None = None,
    remaining: Callable[[], list[str]] | None = None,
    run_id: str = "",
    progress: Progress | None = None,
) -> TeardownReport:
    """Diagnostics first (logs vanish with the services), then every undo in reverse completion order,
    then (given ``remaining``) what still carries the run's label. ``progress`` hears each of them."""
    progress = progress or NoProgress()
    report = TeardownReport(run_id=run_id)
    if diagnostics is not None:
        try:
            with reported_step(progress, "diagnostics", "service status and logs"):
                diagnostics()
        except Exception as exc:  # diagnostics must never prevent the teardown
            log.warning("collecting diagnostics failed: %s", exc)
    for step in reversed(record.completed):
        if step.undo is None:
            continue
        try:
            with reported_step(progress, step.name, "undo"):
                step.undo()
        except Exception as exc:
            report.failed[step.name] = f"{type(exc).__name__}: {exc}"
            continue
        report.undone.append(step.name)
    if remaining is not None:
        try:
            with reported_step(progress, "leftovers", f"what is still labelled run={run_id}"):
                report.remaining = remaining()
        except Exception as exc:  # the account may be unreachable: say so rather than claim it is clean
            report.remaining_error = f"{type(exc).__name__}: {exc}"
    return report
