"""The plan executor and teardown with plain Python steps (no Snowflake): order, concurrency,
failure handling, undo order, critical path."""

from __future__ import annotations

import threading

import pytest

from milvus_spcs.stack.executor import ExecutionRecord, Interrupted, StepFailed, execute
from milvus_spcs.stack.plan import Plan, Step, critical_path
from milvus_spcs.stack.teardown import undo_all


def recording_plan(log: list[str], fail: str | None = None) -> Plan:
    def act(name: str):
        def run() -> None:
            if name == fail:
                raise RuntimeError(f"{name} broke")
            log.append(f"run {name}")

        return run

    def undo(name: str):
        return lambda: log.append(f"undo {name}")

    return Plan(
        [
            Step("role", act("role"), undo("role")),
            Step("db", act("db"), undo("db"), after=("role",)),
            Step("pool_a", act("pool_a"), undo("pool_a"), after=("role",)),
            Step("pool_b", act("pool_b"), undo("pool_b"), after=("role",)),
            Step("service", act("service"), undo("service"), after=("db", "pool_a", "pool_b")),
        ]
    )


def test_dependencies_come_first_and_undo_runs_in_reverse() -> None:
    log: list[str] = []
    plan = recording_plan(log)
    record = execute(plan, ExecutionRecord())
    runs = [entry.split()[1] for entry in log]
    assert runs[0] == "role"
    assert runs[-1] == "service"
    report = undo_all(record)
    assert report.clean
    assert report.undone == [s.name for s in reversed(record.completed)]
    assert report.undone[0] == "service"
    assert report.undone[-1] == "role"


def test_independent_steps_really_run_at_the_same_time() -> None:
    both_started = threading.Barrier(2, timeout=5)  # breaks (fails) unless the two overlap
    plan = Plan([Step("a", both_started.wait), Step("b", both_started.wait)])
    execute(plan, ExecutionRecord(), workers=2)


def test_a_failure_names_the_step_and_what_completed_is_undone() -> None:
    log: list[str] = []
    record = ExecutionRecord()
    with pytest.raises(StepFailed, match="step 'db' failed: RuntimeError: db broke"):
        execute(recording_plan(log, fail="db"), record)
    assert "run service" not in log  # nothing starts after a failure
    undo_all(record)
    undone = [entry.split()[1] for entry in log if entry.startswith("undo")]
    assert "db" in undone  # a half-done step is undone too
    assert undone[-1] == "role"


def test_cancel_stops_scheduling_and_reports_interruption() -> None:
    cancelled = threading.Event()
    plan = Plan([Step("first", cancelled.set), Step("second", lambda: None, after=("first",))])
    record = ExecutionRecord()
    with pytest.raises(Interrupted):
        execute(plan, record, cancelled=cancelled)
    assert [s.name for s in record.completed] == ["first"]


def test_undo_failures_are_collected_not_fatal() -> None:
    def broken() -> None:
        raise RuntimeError("still has services")

    record = ExecutionRecord(
        completed=[Step("pool", lambda: None, broken), Step("service", lambda: None, lambda: None)]
    )
    report = undo_all(record)
    assert report.undone == ["service"]
    assert report.failed == {"pool": "RuntimeError: still has services"}
    assert "pool: RuntimeError" in str(report)


def test_critical_path_is_the_longest_dependent_chain() -> None:
    plan = recording_plan([])
    durations = {"role": 1.0, "db": 1.0, "pool_a": 10.0, "pool_b": 12.0, "service": 5.0}
    length, path = critical_path(plan.steps, durations)
    assert length == 18.0
    assert path == ["role", "pool_b", "service"]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([Step("a", print), Step("a", print)], "duplicate step names"),
        ([Step("a", print, after=("zz",))], "unknown steps"),
        ([Step("a", print, after=("b",)), Step("b", print, after=("a",))], "dependency cycle"),
    ],
)
def test_bad_plans_fail_before_anything_runs(steps: list[Step], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Plan(steps)


def test_summary_line_format() -> None:
    plan = Plan([Step("a", lambda: None)])
    record = ExecutionRecord(durations={"a": 2.0}, wall=2.2)
    assert record.summary(plan) == "provisioning: wall=2.20 critical_path=2.00 ratio=1.100"
