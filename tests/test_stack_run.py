"""The run object (stack/run.py) on every exit path, and the signals its phases defer: whatever ends
a run (its own success, a failing suite, Ctrl-C in a suite, SIGTERM mid-provisioning, a signal during
the teardown) the stack is torn down, the target closed when asked, and the records written."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from milvus_spcs.config import HarnessConfig, resolve_config
from milvus_spcs.stack.run import StackRun, provisioned_stack
from milvus_spcs.stack.signals import DeferredSignals, sigterm_as_keyboard_interrupt
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import EmulatorTarget
from spcs_emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.leftovers import objects_of_run

# -- deferred signals -----------------------------------------------------------------------------------


def test_deferred_signals_are_recorded_and_the_handlers_restored() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    heard: list[str] = []
    with DeferredSignals(on_signal=lambda: heard.append("signal")) as signals:
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)
    assert signals.received == [signal.SIGINT, signal.SIGTERM, signal.SIGTERM]
    assert signals.names() == "SIGINT, SIGTERM x2"
    assert heard == ["signal"] * 3
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_deferred_signals_leave_the_handlers_alone_off_the_main_thread() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []

    def in_a_thread() -> None:
        with DeferredSignals():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert seen == [before]


# -- the run on the emulator (fake containers) ----------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(
        runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path_factory.mktemp("emu")
    ) as emu:
        yield emu


class ClosingTarget(EmulatorTarget):
    """The emulator as a target that counts its closes (a self-started one would stop there)."""

    closes = 0

    def close(self) -> None:
        self.closes += 1


def target_of(emu: Emulator) -> ClosingTarget:
    return ClosingTarget("test emulator", emu.connection_parameters())


def config(tmp_path: Path, run_id: str) -> HarnessConfig:
    return resolve_config({"run_id": run_id, "artifacts_dir": str(tmp_path)}, {})


def assert_torn_down_and_recorded(emu: Emulator, tmp_path: Path, run_id: str) -> str:
    """Nothing of the run left, and its records written; the teardown's report."""
    assert objects_of_run(SqlRunner(target_of(emu), []), run_id) == []
    folder = tmp_path / run_id
    report = (folder / "teardown.txt").read_text()
    assert report.startswith("teardown: removed "), report
    assert f"nothing labelled run={run_id} remains" in report, report
    assert json.loads((folder / "timeline.json").read_text())["run_id"] == run_id
    assert json.loads((folder / "usage.json").read_text())
    return report


def sql_hook(emu: Emulator, monkeypatch: pytest.MonkeyPatch, prefix: str, action: Callable[[], None]) -> None:
    """``action`` once, when the first statement starting with ``prefix`` reaches the emulator."""
    original = emu.account.execute
    done: list[bool] = []

    def hooked(session: Any, sql: str) -> Any:
        if not done and sql.lstrip().upper().startswith(prefix):
            done.append(True)
            action()
        return original(session, sql)

    monkeypatch.setattr(emu.account, "execute", hooked)


def test_the_run_object_provisions_tears_down_and_keeps_what_it_found(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.reset()
    target = target_of(emulator)
    lines: list[str] = []
    run = StackRun(target, config(tmp_path, "obj001"), report=lines.append, close=True)
    state = run.provision()
    assert state.ingress_host
    assert (tmp_path / "obj001" / "provisioning.txt").read_text().startswith("provisioning: wall=")
    assert run.teardown_report is None, "nothing is torn down before finish"
    run.finish(None, None, None)
    assert run.teardown_report is not None
    assert run.teardown_report.clean
    assert run.explanation, "the services' diagnosis in short"
    assert run.closed == "closed test emulator"
    assert target.closes == 1
    report = assert_torn_down_and_recorded(emulator, tmp_path, "obj001")
    assert report.splitlines()[-1] == "closed test emulator"
    assert lines[0].startswith("provisioning: wall=")
    assert lines[-1].startswith(report.rstrip("\n")), (
        "the report says what teardown.txt says, then the records"
    )


def test_sigterm_mid_provisioning_tears_down_and_closes_the_target(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the pytest fixtures run it: SIGTERM unwinds like Ctrl-C outside the run's phases."""
    emulator.reset()
    previous = signal.getsignal(signal.SIGTERM)
    target = target_of(emulator)
    sql_hook(emulator, monkeypatch, "CREATE SERVICE", lambda: signal.raise_signal(signal.SIGTERM))
    try:
        sigterm_as_keyboard_interrupt()
        installed = signal.getsignal(signal.SIGTERM)
        with (
            pytest.raises(
                KeyboardInterrupt, match=f"interrupted by signal {signal.SIGTERM.value} during provisioning"
            ),
            provisioned_stack(target, config(tmp_path, "term01"), report=print, close=True),
        ):
            pytest.fail("a run interrupted during provisioning reached its suites")
        assert signal.getsignal(signal.SIGTERM) is installed, "the run gave the handler back"
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert target.closes == 1
    assert_torn_down_and_recorded(emulator, tmp_path, "term01")


def test_ctrl_c_in_a_suite_tears_down_and_propagates_unchanged(emulator: Emulator, tmp_path: Path) -> None:
    emulator.reset()
    target = target_of(emulator)
    interrupt = KeyboardInterrupt("Ctrl-C in a suite")
    with (
        pytest.raises(KeyboardInterrupt) as info,
        provisioned_stack(target, config(tmp_path, "ctrl01"), close=True),
    ):
        raise interrupt
    assert info.value is interrupt
    assert not getattr(interrupt, "__notes__", None), "an interrupt is no failure to explain"
    assert target.closes == 1
    assert_torn_down_and_recorded(emulator, tmp_path, "ctrl01")


def test_a_signal_during_teardown_is_deferred_until_it_finished(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.reset()
    target = target_of(emulator)
    sql_hook(emulator, monkeypatch, "DROP SERVICE", lambda: signal.raise_signal(signal.SIGTERM))
    failure = RuntimeError("a suite failed")
    with (
        pytest.raises(KeyboardInterrupt, match="interrupted by SIGTERM during teardown") as info,
        provisioned_stack(target, config(tmp_path, "term02"), report=print, close=True),
    ):
        raise failure
    assert info.value.__context__ is failure, "the suite's failure is not lost"
    assert failure.__notes__, "it carries the services' diagnosis"
    assert target.closes == 1
    report = assert_torn_down_and_recorded(emulator, tmp_path, "term02")
    assert "signals during teardown: SIGTERM (deferred until the teardown finished)" in report


def test_a_kept_stack_is_not_torn_down_but_recorded(emulator: Emulator, tmp_path: Path) -> None:
    emulator.reset()
    options = {"run_id": "keep01", "artifacts_dir": str(tmp_path), "keep_stack": "1"}
    lines: list[str] = []
    run = StackRun(target_of(emulator), resolve_config(options, {}), report=lines.append)
    run.provision()
    run.finish(None, None, None)
    assert run.teardown_report is None
    assert run.closed is None, "closing the target was not asked for"
    assert "--keep-stack: the stack of run keep01 stays" in lines[-1]
    assert not (tmp_path / "keep01" / "teardown.txt").exists()
    assert (tmp_path / "keep01" / "timeline.json").exists()
    assert objects_of_run(SqlRunner(target_of(emulator), []), "keep01"), "the stack stays"
