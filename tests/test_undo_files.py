"""sql/undo/<step>.sql: one per step that creates something, rendered like the stage files, and
safe to run on a half-built or already removed stack (every drop IF EXISTS)."""

from __future__ import annotations

import pytest

from milvus_spcs.naming import StackNames
from milvus_spcs.paths import REPO_ROOT
from milvus_spcs.sqlfiles import load_sql_dir

UNDO = load_sql_dir(REPO_ROOT / "sql" / "undo")
CREATING_STEPS = {
    "role_and_user",
    "storage",
    "network",
    "pool_milvus",
    "pool_jupyter",
    "service_milvus",
    "service_jupyter",
}


def test_every_creating_step_has_an_undo_file() -> None:
    assert {name.removesuffix(".sql") for name in UNDO} == CREATING_STEPS


@pytest.mark.parametrize("name", sorted(UNDO))
def test_undo_renders_and_only_drops_if_exists(name: str) -> None:
    statements = UNDO[name].statements(StackNames("abc123").variables())
    assert statements[0].startswith("USE ROLE ")
    for sql in statements[1:]:
        assert "IF EXISTS" in sql, sql
        assert "<%" not in sql
