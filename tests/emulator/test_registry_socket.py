"""The image registry's unix socket binds below any TMPDIR (a socket path holds at most 107 bytes):
under pytest-xdist's deeper temporary folders the registry exited with "bind: invalid argument"."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from spcs_emulator.spcs.oci_storage import (
    SOCKET_NAME,
    SOCKET_PATH_MAX,
    DistributionStore,
    registry_binary,
    socket_dir,
)
from spcs_emulator.spcs.processes import Lifeline


@pytest.fixture
def deep_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    return deep


def test_the_socket_folder_leaves_a_too_deep_tmpdir(deep_tmpdir: Path) -> None:
    folder = socket_dir()
    try:
        assert len(os.fsencode(folder / SOCKET_NAME)) <= SOCKET_PATH_MAX
        assert folder.stat().st_mode & 0o777 == 0o700
        assert not folder.is_relative_to(deep_tmpdir)
    finally:
        folder.rmdir()


def test_a_shallow_tmpdir_keeps_the_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = socket_dir()
    assert folder.parent == tmp_path


def test_the_registry_starts_below_a_too_deep_tmpdir(deep_tmpdir: Path, tmp_path: Path) -> None:
    binary = registry_binary()
    if binary is None:
        pytest.skip("no distribution registry installed (scripts/install-docker.sh installs docker-registry)")
    lifeline = Lifeline()
    store = DistributionStore(tmp_path / "store", lifeline, binary)
    try:
        store.start(timeout=30)
        status, _, _ = store.request("GET", "/v2/", timeout=5.0)
        assert status == 200
    finally:
        store.stop()
        lifeline.close()
