"""`pytest -m local|spcs|docker` only collects the marker's own folder (fixtures/options.py), so a
test carrying a suite marker must live in that folder, or `-m <marker>` would silently skip it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fixtures.options import SUITE_DIRS

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
