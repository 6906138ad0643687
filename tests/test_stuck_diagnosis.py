"""A service made to fail (an image never pushed, a readiness probe that keeps failing) fails the run
with the service's platform events and a readable container line in the report (issue 19, item 2).
Against the emulator with a fake runtime; the lines themselves read well when fields are NULL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from milvus_spcs.config import resolve_config
from milvus_spcs.stack.executor import StepFailed
from milvus_spcs.stack.run import provisioned_stack
from milvus_spcs.stack.service_status import container_line, event_line
from milvus_spcs.target import Budgets, EmulatorTarget
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.runtime_api import ContainerLaunch
from tests.emulator.fakes import FakeHandle, FakeIngress, FakeRuntime

pytestmark = pytest.mark.slow


class MilvusNeverReady(FakeRuntime):
    """Milvus starts but its readiness probe never passes; Jupyter is ready."""

    def launch(self, launch: ContainerLaunch) -> FakeHandle:
        handle = FakeHandle(launch, state="PENDING" if launch.container == "milvus" else "READY")
        self.handles.append(handle)
        return handle


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(runtime=MilvusNeverReady(), ingress=FakeIngress(), state_dir=tmp_path / "emu") as emu:
        yield emu


def run(emu: Emulator, tmp_path: Path, run_id: str) -> StepFailed:
    target = EmulatorTarget("test emulator", emu.connection_parameters())
    config = resolve_config({"run_id": run_id, "artifacts_dir": str(tmp_path)}, {})
    with pytest.raises(StepFailed) as info, provisioned_stack(target, config, report=print):
        pass
    return info.value


def report(failure: BaseException) -> str:
    """What the user reads: the error and the explanation noted under it."""
    return "\n".join([str(failure), *getattr(failure, "__notes__", [])])


def test_an_image_never_pushed_fails_the_run_with_its_events(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish = EmulatorTarget.publish_image

    def without_milvus(self: EmulatorTarget, reference: str, *args: Any) -> Any:
        if "/milvus:" in reference:
            return None  # never pushed: the service cannot pull it
        return publish(self, reference, *args)

    monkeypatch.setattr(EmulatorTarget, "publish_image", without_milvus)
    failure = run(emulator, tmp_path, "badimg")
    assert failure.step == "service_milvus"
    text = report(failure)
    assert "CONTAINER.STATUS_CHANGE milvus: PENDING, Failed to pull image" in text
    assert "ERROR SERVICE.STATUS_CHANGE: FAILED, Service has failed" in text
    assert "container milvus: FAILED, message 'Failed to pull image" in text
    assert "None" not in text


def test_a_failing_readiness_probe_times_out_with_its_events(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    budgets = Budgets(pool=300.0, service=2.0, endpoint=300.0, interval=0.2)
    monkeypatch.setattr(EmulatorTarget, "budgets", budgets)
    failure = run(emulator, tmp_path, "notrdy")
    assert failure.step == "service_milvus"
    text = report(failure)
    assert (
        "CONTAINER.STATUS_CHANGE milvus: PENDING, Readiness probe is failing at path: /healthz, port: 9091"
        in text
    )
    assert "container milvus: PENDING, restarts 0, message 'Waiting'" in text
    assert "None" not in text


def test_a_container_line_with_null_fields_reads_well() -> None:
    pending: dict[str, Any] = {"service_name": "MILVUS", "service_status": "PENDING", "instance_id": None}
    pending |= dict.fromkeys(("container_name", "status", "message", "restart_count", "last_exit_code"))
    assert container_line(pending) == "no container started yet (service PENDING, no instance)"
    crashed = {"container_name": "milvus", "status": "FAILED", "restart_count": 2, "last_exit_code": 137}
    assert container_line({**crashed, "message": None}) == (
        "container milvus: FAILED, restarts 2, last exit code 137"
    )


def test_an_event_line_reads_well_from_an_account_row() -> None:
    row = {
        "TIMESTAMP": "2025-06-26 00:23:40.933000",
        "SEVERITY": "ERROR",
        "EVENT_NAME": "CONTAINER.STATUS_CHANGE",
        "EVENT_DETAILS": (
            '{\n  "message": "Container was OOMKilled due to resource usage",\n  "status": "FAILED"\n}'
        ),
        "INSTANCE_ID": 0,
        "CONTAINER_NAME": "main",
        "RECORD": '{"name": "CONTAINER.STATUS_CHANGE", "severity_text": "ERROR"}',
        "RECORD_ATTRIBUTES": None,  # NULL on an account
    }
    assert event_line(row) == (
        "2025-06-26 00:23:40 ERROR CONTAINER.STATUS_CHANGE main: "
        "FAILED, Container was OOMKilled due to resource usage"
    )
    bare = {"TIMESTAMP": None, "SEVERITY": None, "EVENT_NAME": "SERVICE.STATUS_CHANGE", "EVENT_DETAILS": None}
    assert event_line(bare) == "SERVICE.STATUS_CHANGE: no details"
