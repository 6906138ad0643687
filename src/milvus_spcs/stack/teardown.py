"""Undo what a run created, newest first, collecting every failure instead of stopping at the first."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from milvus_spcs.stack.executor import Record

log = logging.getLogger(__name__)


@dataclass
class TeardownReport:
    undone: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        if self.clean:
            return f"teardown: removed {len(self.undone)} step(s)"
        lines = [f"teardown left {len(self.failed)} step(s) not undone:"]
        lines += [f"  - {name}: {error}" for name, error in self.failed.items()]
        return "\n".join(lines)


def undo_all(record: Record, *, diagnostics: Callable[[], None] | None = None) -> TeardownReport:
    """Diagnostics first (logs vanish with the services), then every undo in reverse completion order."""
    report = TeardownReport()
    if diagnostics is not None:
        try:
            diagnostics()
        except Exception as exc:  # diagnostics must never prevent the teardown
            log.warning("collecting diagnostics failed: %s", exc)
    for step in reversed(record.completed):
        if step.undo is None:
            continue
        try:
            step.undo()
        except Exception as exc:
            report.failed[step.name] = f"{type(exc).__name__}: {exc}"
            continue
        report.undone.append(step.name)
    return report
