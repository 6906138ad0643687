"""How the tests are laid out.

`pytest -m local|spcs|docker` only collects the marker's own folder (fixtures/options.py), so a test
carrying a suite marker must live in that folder, or `-m <marker>` would silently skip it. What tests
share lives in helper modules (tests/emulator/sql.py, ...) and conftest fixtures, never in another
test module: importing a test module runs its module-level setup and re-collects its fixtures there.
"""

from __future__ import annotations

import ast
import re
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
