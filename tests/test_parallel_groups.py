"""How `pytest -n N` spreads the tests (fixtures/parallel.py): the groups that keep a shared session or a
costly module fixture on one worker, one OpenMP thread per process, and a bytecode cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.parallel import (
    SHARED_MODULES,
    SHARED_SESSION_DIRS,
    group_of,
    keep_bytecode,
    one_thread_per_process,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("suites/spcs/test_grants.py", "suites-spcs"),
        ("suites/docker/test_compose.py", "suites-docker"),
        ("suites/local/test_search_properties.py", "suites-local"),
        ("tests/emulator/test_docker_runtime.py", "tests/emulator/test_docker_runtime.py"),
        ("tests/emulator/test_instances_docker.py", "tests/emulator/test_instances_docker.py"),
        ("tests/emulator/test_grammar.py", None),
        ("tests/test_waits.py", None),
    ],
)
def test_shared_sessions_and_costly_module_fixtures_stay_on_one_worker(path: str, group: str | None) -> None:
    assert group_of(path) == group


def test_every_grouped_folder_and_module_exists() -> None:
    """A renamed module or folder would silently lose its group (and start its fixture on every worker)."""
    for folder in SHARED_SESSION_DIRS:
        assert (REPO / folder).is_dir(), folder
    for module in SHARED_MODULES:
        assert (REPO / module).is_file(), module


class FakeTorch:
    def __init__(self) -> None:
        self.threads: list[int] = []

    def set_num_threads(self, threads: int) -> None:
        self.threads.append(threads)


def test_one_openmp_thread_per_process_unless_the_caller_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    one_thread_per_process()
    assert os.environ["OMP_NUM_THREADS"] == "1"  # the workers and their subprocesses inherit it
    assert torch.threads == [1]  # torch imported before: told as well

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    one_thread_per_process()
    assert os.environ["OMP_NUM_THREADS"] == "3"
    assert torch.threads == [1, 3]


def test_the_run_keeps_bytecode_even_where_the_machine_says_not_to(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    keep_bytecode()
    assert sys.dont_write_bytecode is False
    # What the workers start inherits the environment: a child compiles and keeps its bytecode.
    (tmp_path / "compiled_here.py").write_text("VALUE = 1\n")
    subprocess.run([sys.executable, "-c", "import compiled_here"], cwd=tmp_path, env=os.environ, check=True)
    assert list((tmp_path / "__pycache__").glob("compiled_here.*.pyc"))


def test_this_run_was_configured_to_keep_bytecode() -> None:
    """fixtures/parallel.py's pytest_configure ran in this process (the root conftest lists it)."""
    assert "PYTHONDONTWRITEBYTECODE" not in os.environ
    assert sys.dont_write_bytecode is False
