"""The emulated Milvus stops and restarts without dead time (bench.spcs_path measured 36 s of it per run)."""

from __future__ import annotations

from pathlib import Path

from spcs_emulator.spcs import runtime_kinds
from spcs_emulator.spcs.runtime import default_cache_dir
from spcs_emulator.spcs.runtime_kinds import ContainerDirs
from tests.emulator.test_runtime import make_launch


def test_milvus_is_told_to_stop_within_its_grace_and_to_let_dead_sessions_expire_soon(
    tmp_path: Path,
) -> None:
    """A suspend or a teardown must not wait out the stop grace (then SIGKILL), nor a resume the dead
    instance's etcd sessions (see runtime_kinds.STOP_PROMPTLY)."""
    launch = make_launch(
        tmp_path, "m", runtime="milvus", service="milvus", ip="127.0.0.9", port=19530, hosts={}
    )
    dirs = ContainerDirs(tmp_path / "c", tmp_path / "c" / "cwd", tmp_path / "c" / "data")
    plan = runtime_kinds.plan_milvus(launch, dirs, default_cache_dir())
    assert plan.env["QUERYNODE_GRACEFULSTOPTIMEOUT"] == "1"
    assert plan.env["COMMON_SESSION_TTL"] == "10"
