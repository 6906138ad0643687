"""Steps as data: what to do, what undoes it, what it waits for, and what must come first."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Action = Callable[[], Any]


@dataclass(frozen=True)
class Step:
    name: str
    run: Action
    undo: Action | None = None
    after: tuple[str, ...] = ()
    # A wait is part of the step (its duration counts on the critical path): pool IDLE, service RUNNING.
    wait: Action | None = None
    description: str = ""


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_plan(self.steps)

    def by_name(self) -> dict[str, Step]:
        return {s.name: s for s in self.steps}


def check_plan(steps: Sequence[Step]) -> None:
    """Names unique, dependencies known, no cycle: a bad plan fails before anything is created."""
    names = [s.name for s in steps]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate step names: {sorted(duplicates)}")
    known = set(names)
    for step in steps:
        unknown = set(step.after) - known
        if unknown:
            raise ValueError(f"step {step.name!r} depends on unknown steps {sorted(unknown)}")
    topological_order(steps)


def topological_order(steps: Iterable[Step]) -> list[str]:
    steps = list(steps)
    remaining = {s.name: set(s.after) for s in steps}
    order: list[str] = []
    while remaining:
        ready = sorted(n for n, deps in remaining.items() if not deps)
        if not ready:
            raise ValueError(f"dependency cycle among {sorted(remaining)}")
        for name in ready:
            order.append(name)
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def critical_path(steps: Sequence[Step], durations: dict[str, float]) -> tuple[float, list[str]]:
    """Length and steps of the longest chain of dependent steps, by their observed durations: the
    shortest wall time any executor of this plan could achieve."""
    by_name = {s.name: s for s in steps}
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for name in topological_order(steps):
        deps = by_name[name].after
        start_from = max(deps, key=lambda d: finish[d], default=None)
        start = finish[start_from] if start_from else 0.0
        finish[name] = start + durations.get(name, 0.0)
        via[name] = start_from
    if not finish:
        return 0.0, []
    end = max(finish, key=lambda n: finish[n])
    path: list[str] = []
    cursor: str | None = end
    while cursor is not None:
        path.append(cursor)
        cursor = via[cursor]
    return finish[end], list(reversed(path))
