"""How the tests are laid out.

`pytest -m local|spcs|docker` only collects the marker's own folder (fixtures/suites.py), so a test
carrying a suite marker must live in that folder, or `-m <marker>` would silently skip it. What tests
share lives in helper modules (tests/emulator/sql.py, ...) and conftest fixtures, never in another
test module: importing a test module runs its module-level setup and re-collects its fixtures there.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.suites import SUITE_DIRS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("marker", sorted(SUITE_DIRS))
def test_suite_markers_are_used_only_in_their_folder(marker: str) -> None:
    pattern = re.compile(rf"pytest\.mark\.{marker}\b")
    home = ROOT / SUITE_DIRS[marker]
    strays = [
        str(path.relative_to(ROOT))
        for folder in (ROOT / "tests", ROOT / "suites")
        for path in folder.rglob("*.py")
        if pattern.search(path.read_text()) and home not in path.parents
    ]
    assert strays == []


def named_test_modules(module: str | None, names: list[str]) -> list[str]:
    """The ``test_*`` modules an import statement names: ``from a.test_b import x``, ``import a.test_b``,
    ``from a import test_b`` (``from . import test_b``, ``from .test_b import x``)."""
    named = [m for m in ([module] if module else []) + names if m.rsplit(".", 1)[-1].startswith("test_")]
    return named


def imports_of_test_modules(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            named = named_test_modules(node.module, [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            named = named_test_modules(None, [alias.name for alias in node.names])
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno} imports {name}" for name in named]
    return found


def test_no_module_imports_a_test_module() -> None:
    imports = [
        found
        for folder in ("tests", "suites", "fixtures", "bench", "scripts")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for found in imports_of_test_modules(path)
    ]
    assert imports == []


def emulator_imports_outside_its_face(source: str, where: str) -> list[str]:
    """Imports of ``spcs_emulator`` in ``source`` (the file ``where``) other than ``import spcs_emulator``
    and ``from spcs_emulator import X`` with X exported (in its ``__all__``): a submodule, or an
    underscore name."""
    import spcs_emulator

    exported = set(spcs_emulator.__all__)
    found = []
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            root = node.module.split(".")[0]
            if root != "spcs_emulator":
                continue
            if node.module != "spcs_emulator":
                bad = [node.module]
            else:
                bad = [f"spcs_emulator.{a.name}" for a in node.names if a.name not in exported]
        elif isinstance(node, ast.Import):
            bad = [a.name for a in node.names if a.name.startswith("spcs_emulator.")]
        else:
            continue
        found += [f"{where}:{node.lineno} imports {name}" for name in bad]
    return found


def test_the_harness_bench_and_scripts_use_only_the_emulators_public_face() -> None:
    """issue 20 item 3: what spcs_emulator exports is all the harness, the benchmarks and the scripts
    may import of it; the rest is the emulator's own and may change under them."""
    folders = (ROOT / "src" / "milvus_spcs", ROOT / "bench", ROOT / "scripts")
    imports = [
        found
        for folder in folders
        for path in sorted(folder.rglob("*.py"))
        for found in emulator_imports_outside_its_face(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert imports == []


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("import spcs_emulator", []),
        ("from spcs_emulator import Emulator, ControlClient", []),
        ("from spcs_emulator import _EXPORTS", ["spcs_emulator._EXPORTS"]),
        ("from spcs_emulator.emulator import Emulator", ["spcs_emulator.emulator"]),
        ("import spcs_emulator.spcs.processes", ["spcs_emulator.spcs.processes"]),
        ("from spcs_emulator import spcs", ["spcs_emulator.spcs"]),
        ("def f():\n    from spcs_emulator.spcs import runtime", ["spcs_emulator.spcs"]),
        ("from spcs_emulatorx import y", []),
    ],
)
def test_the_face_check_flags_what_it_should(source: str, flagged: list[str]) -> None:
    found = emulator_imports_outside_its_face(source, "probe.py")
    assert [line.rsplit(" imports ", 1)[1] for line in found] == flagged


def test_a_folder_named_on_the_command_line_is_collected_whatever_the_marker() -> None:
    # `-m local` skips importing the other suites only in the default run: a folder the user names is
    # collected (its tests deselected by the marker), so `pytest -m spcs suites/spcs/backup` finds them.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-m",
            "local",
            "--co",
            "-q",
            "suites/spcs",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert re.search(r"\(\d+ deselected\)", result.stdout), result.stdout[-1000:] + result.stderr[-1000:]
