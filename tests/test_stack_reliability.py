"""Provisioning against the emulator under failure: a fault at any step names the step and leaves no
labelled object and no process behind; an interrupt tears down too; secrets reach no log or artifact."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from milvus_spcs.stack.executor import StepFailed
from milvus_spcs.stack.run import provisioned_stack
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.runs import config, leftovers, target_of

pytestmark = pytest.mark.slow

# A statement of each step, as a regex over the SQL it sends: injecting a failure there must fail
# exactly that step.
STEP_FAULTS = {
    "account": r"^CREATE SECURITY INTEGRATION",
    "role_and_user": r"^CREATE USER",
    "storage": r"^CREATE IMAGE REPOSITORY",
    "grants": r"^GRANT USAGE ON WAREHOUSE",
    "network": r"^CREATE EXTERNAL ACCESS INTEGRATION",
    "pool_milvus": r"^CREATE COMPUTE POOL IF NOT EXISTS \w+_MILVUS_POOL",
    "pool_jupyter": r"^CREATE COMPUTE POOL IF NOT EXISTS \w+_JUPYTER_POOL",
    "images": r"^SHOW IMAGE REPOSITORIES",
    "specs": r"^PUT ",
    "service_milvus": r"^CREATE SERVICE IF NOT EXISTS MILVUS\b",
    "service_jupyter": r"^CREATE SERVICE IF NOT EXISTS JUPYTER\b",
    "endpoint_access": r"^GRANT SERVICE ROLE",
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, FakeRuntime]]:
    runtime = FakeRuntime()
    with Emulator(runtime=runtime, ingress=FakeIngress(), state_dir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu, runtime


@pytest.mark.parametrize("step", list(STEP_FAULTS))
def test_a_fault_at_any_step_names_it_and_leaves_nothing(emulator, tmp_path: Path, step: str) -> None:
    emu, runtime = emulator
    emu.reset()
    run_id = "flt" + format(list(STEP_FAULTS).index(step), "03d")
    emu.account.state.faults.fail_statement(STEP_FAULTS[step], message=f"Injected failure at {step}.")
    with (
        pytest.raises(StepFailed) as info,
        provisioned_stack(target_of(emu), config(tmp_path, run_id), report=print),
    ):
        pass
    assert info.value.step == step
    assert f"Injected failure at {step}" in str(info.value)
    assert leftovers(emu, run_id) == []
    assert all(handle.stopped for handle in runtime.handles), "every container started was stopped"
    assert (tmp_path / run_id / "teardown.txt").read_text().startswith("teardown: removed")


def test_a_service_that_fails_to_start_fails_its_step_with_the_reason(emulator, tmp_path: Path) -> None:
    emu, _ = emulator
    emu.reset()
    emu.control.fail_next_start(
        "MILVUS", "Unschedulable due to insufficient CPU resources in the compute pool."
    )
    with (
        pytest.raises(StepFailed) as info,
        provisioned_stack(target_of(emu), config(tmp_path, "svcflt"), report=print),
    ):
        pass
    assert info.value.step == "service_milvus"
    assert "FAILED" in str(info.value)
    assert "insufficient CPU" in str(info.value)
    assert leftovers(emu, "svcflt") == []


def test_an_interrupt_during_provisioning_tears_everything_down(emulator, tmp_path: Path) -> None:
    emu, _ = emulator
    emu.reset()
    cfg = config(tmp_path, "intrpt")
    # Interrupt when the services are being created: pools, storage and role exist by then.

    stack = provisioned_stack(target_of(emu), cfg, report=print)
    original = emu.account.execute

    def interrupting(session, sql):  # the signal arrives while a step runs, like a Ctrl-C mid-provisioning
        if sql.lstrip().upper().startswith("CREATE SERVICE"):
            signal.raise_signal(signal.SIGINT)
        return original(session, sql)

    emu.account.execute = interrupting  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt, match="interrupted by signal"), stack:
            pass
    finally:
        emu.account.execute = original  # type: ignore[method-assign]
    assert leftovers(emu, "intrpt") == []


def test_secrets_reach_no_log_artifact_or_error(
    emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu, _ = emulator
    emu.reset()
    caplog.set_level(logging.DEBUG)
    seen: dict[str, str] = {}
    stack = provisioned_stack(target_of(emu), config(tmp_path, "secret"), report=logging.getLogger("t").info)
    with pytest.raises(RuntimeError) as info, stack as state:  # noqa: PT012  (a failing suite using the stack)
        seen["password"] = str(state.password)
        raise RuntimeError(f"a suite failed while the stack was up: {state!r}")
    password = seen["password"]
    artifacts = "".join(
        p.read_text(errors="replace") for p in (tmp_path / "secret").rglob("*") if p.is_file()
    )
    specs = "".join(state.spec_texts.values())
    for where, text in (
        ("logs", caplog.text),
        ("artifacts", artifacts),
        ("specs", specs),
        ("error", str(info.value)),
    ):
        assert password not in text, f"the password leaked into {where}"
    assert "sql: CREATE USER" in caplog.text  # the statement was logged, redacted
    assert emu.admin_password not in caplog.text
    assert leftovers(emu, "secret") == []
