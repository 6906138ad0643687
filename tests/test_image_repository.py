"""A real account runs on images pushed beforehand to a lasting repository (`--image-repository`):
the run checks they are there before creating services, and the specs point at them."""

from __future__ import annotations

from pathlib import Path

import pytest
import snowflake.connector

from milvus_spcs.config import resolve_config
from milvus_spcs.errors import PreflightError
from milvus_spcs.stack.executor import StepFailed
from milvus_spcs.stack.run import provisioned_stack
from milvus_spcs.target import AccountTarget, EmulatorTarget
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.images import publish

pytestmark = pytest.mark.slow


@pytest.fixture
def emulator_with_images(tmp_path: Path):
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "emu") as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        cur = conn.cursor()
        for sql in (
            "USE ROLE SYSADMIN",
            "CREATE DATABASE IMAGES_DB",
            "CREATE IMAGE REPOSITORY IMAGES_DB.PUBLIC.REPO",
        ):
            cur.execute(sql)
        cur.execute("SHOW IMAGE REPOSITORIES IN SCHEMA IMAGES_DB.PUBLIC")
        url = cur.fetchall()[0][4]
        conn.close()
        publish(emu, f"{url}/milvus:v7", "milvus")
        publish(emu, f"{url}/jupyter:v7", "jupyter")
        yield emu


def config(tmp_path: Path, run_id: str, tag: str):
    options = {
        "run_id": run_id,
        "artifacts_dir": str(tmp_path),
        "image_repository": "images_db.public.repo",
        "image_tag": tag,
    }
    return resolve_config(options, {})


def test_services_run_from_the_lasting_repository(emulator_with_images: Emulator, tmp_path: Path) -> None:
    target = EmulatorTarget("test", emulator_with_images.connection_parameters())
    with provisioned_stack(target, config(tmp_path, "repo01", "v7"), report=print) as state:
        assert "image: /images_db/public/repo/milvus:v7" in state.spec_texts["milvus.yaml"]
        assert state.ingress_host


def test_missing_images_fail_the_images_step_before_any_service(
    emulator_with_images: Emulator, tmp_path: Path
) -> None:
    target = EmulatorTarget("test", emulator_with_images.connection_parameters())
    with (
        pytest.raises(StepFailed) as info,
        provisioned_stack(target, config(tmp_path, "repo02", "v8"), report=print),
    ):
        pass
    assert info.value.step == "images"
    assert "milvus:v8, jupyter:v8 not in IMAGES_DB.PUBLIC.REPO" in str(info.value)


def test_a_real_account_without_pushed_images_is_refused_before_anything(tmp_path: Path) -> None:
    account = AccountTarget("a real account", {"account": "x", "user": "u"})
    options = {"run_id": "repo03", "artifacts_dir": str(tmp_path), "snowflake_connection": "nightly"}
    stack = provisioned_stack(account, resolve_config(options, {}), report=print)
    with pytest.raises(PreflightError, match="needs the images pushed") as info, stack:
        pass
    assert "milvus-spcs images push" in str(info.value)
    assert not (tmp_path / "repo03").exists()
