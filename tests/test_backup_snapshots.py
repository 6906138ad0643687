"""No billed leftovers (BCR-2206, 2026_01): deleting a block volume snapshots it, keeps the snapshot 7
days and bills it, unless the spec says blockConfig.snapshotOnDelete: false. The harness's spec opts out,
its policy requires every spec to decide, and teardown and the janitor drop any backup of a run's
services that exists anyway. Against the emulator (real connector), which models the bundle."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from milvus_spcs.naming import StackNames
from milvus_spcs.specs import check_spec_policy, parse_spec, render_spec, spec_variables
from milvus_spcs.stack.janitor import teardown_run
from milvus_spcs.stack.progress import NoProgress, ProgressEvent
from milvus_spcs.stack.snapshots import backup_snapshots, drop_backup_snapshots
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import EmulatorTarget
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime

REPO = Path(__file__).resolve().parents[1]
RUN = "bk0001"


def block_spec(block_config: dict | None, image: str = "/d/public/r/app:1") -> dict:
    volume: dict = {"name": "data", "source": "block", "size": "10Gi"}
    if block_config is not None:
        volume["blockConfig"] = block_config
    container = {
        "name": "m",
        "image": image,
        "volumeMounts": [{"name": "data", "mountPath": "/d"}],
    }
    return {"spec": {"containers": [container], "volumes": [volume]}}


@pytest.mark.parametrize("block_config", [None, {}, {"snapshotOnDelete": "false"}])
def test_the_policy_refuses_a_block_volume_that_does_not_decide(block_config: dict | None) -> None:
    (problem,) = check_spec_policy(block_spec(block_config))
    assert "blockConfig.snapshotOnDelete" in problem
    assert "billed for 7 days" in problem


@pytest.mark.parametrize("value", [False, True])
def test_the_policy_accepts_either_explicit_choice(value: bool) -> None:
    assert check_spec_policy(block_spec({"snapshotOnDelete": value})) == []


def test_the_milvus_spec_opts_out_and_passes_the_policy() -> None:
    variables = spec_variables(StackNames(RUN), milvus_tag="v1", jupyter_tag="v1")
    spec = parse_spec(render_spec(REPO / "specs" / "milvus.yaml", variables))
    assert check_spec_policy(spec) == []
    (volume,) = spec["spec"]["volumes"]
    assert volume["source"] == "block"
    assert volume["blockConfig"]["snapshotOnDelete"] is False


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "state") as emu:
        yield emu


@pytest.fixture
def runner(emulator: Emulator) -> SqlRunner:
    return SqlRunner(EmulatorTarget("test", emulator.connection_parameters()), [])


def create_run_service(runner: SqlRunner, block_config: dict | None) -> StackNames:
    """The run's database, pool and a Milvus-named service with a block volume, as SYSADMIN."""
    names = StackNames(RUN)
    image = f"/{names.database}/{names.schema}/images/app:1".lower()
    spec = json.dumps(block_spec(block_config, image))
    runner.run(
        [
            "USE ROLE SYSADMIN",
            f"CREATE DATABASE {names.database}",
            f"CREATE SCHEMA IF NOT EXISTS {names.database}.{names.schema}",
            f"CREATE IMAGE REPOSITORY {names.database}.{names.schema}.IMAGES",
            f"CREATE COMPUTE POOL {names.milvus_pool} MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS",
            f"CREATE SERVICE {names.database}.{names.schema}.{names.milvus_service} "
            f"IN COMPUTE POOL {names.milvus_pool} FROM SPECIFICATION $${spec}$$",
        ]
    )
    return names


def all_snapshots(runner: SqlRunner) -> list[str]:
    return [r["name"] for r in runner.run(["USE ROLE ACCOUNTADMIN", "SHOW SNAPSHOTS IN ACCOUNT"])[-1]]


def test_without_the_opt_out_a_force_drop_leaves_a_backup_that_the_harness_finds_and_drops(
    runner: SqlRunner,
) -> None:
    names = create_run_service(runner, None)
    schema = f"{names.database}.{names.schema}"
    service = f"{schema}.{names.milvus_service}"
    runner.run(["USE ROLE SYSADMIN", f"DROP SERVICE {service} FORCE"])
    (backup,) = all_snapshots(runner)
    assert backup.startswith("SYS_BACKUP_ON_DELETE")
    assert backup_snapshots(runner, "SYSADMIN", schema, [f"{schema}.OTHER"]) == []  # only the run's services
    assert drop_backup_snapshots(runner, "SYSADMIN", schema, [service]) == [backup]
    assert all_snapshots(runner) == []


class Recorded(NoProgress):
    def __init__(self) -> None:
        self.details: list[str] = []

    def emit(self, event: ProgressEvent) -> None:
        self.details.append(event.detail)


def test_the_janitor_drops_the_backup_by_name_and_says_so(runner: SqlRunner) -> None:
    names = create_run_service(runner, None)
    runner.run(
        ["USE ROLE SYSADMIN", f"DROP SERVICE {names.database}.{names.schema}.{names.milvus_service} FORCE"]
    )
    (backup,) = all_snapshots(runner)
    progress = Recorded()
    teardown_run(runner, RUN, progress=progress)
    assert all_snapshots(runner) == []
    # By name, between the services and the database: the database would take it too, but the run's
    # report must say that a billed backup existed.
    assert f"dropped backup {backup}" in progress.details


def test_with_the_opt_out_a_teardown_leaves_no_snapshot(runner: SqlRunner) -> None:
    create_run_service(runner, {"snapshotOnDelete": False})
    teardown_run(runner, RUN)
    assert all_snapshots(runner) == []
    assert runner.run(["USE ROLE ACCOUNTADMIN", "SHOW SERVICES IN ACCOUNT"])[-1] == []
