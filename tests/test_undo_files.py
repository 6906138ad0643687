"""sql/undo/<step>.sql: one per step that creates something, rendered like the stage files, and
safe to run on a half-built or already removed stack (every drop IF EXISTS)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from milvus_spcs.config import resolve_config
from milvus_spcs.naming import StackNames
from milvus_spcs.paths import REPO_ROOT
from milvus_spcs.sqlfiles import TEMPLATE_VARIABLE, load_sql_dir, split_statements
from milvus_spcs.stack.janitor import teardown_run
from milvus_spcs.stack.run import provisioned_stack
from milvus_spcs.stack.spcs_plan import create_outsider
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import EmulatorTarget
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.leftovers import objects_of_run

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


# -- 90_teardown.sql (also what `down` and the janitor run) drops everything any code path creates -----


@pytest.mark.slow
def test_teardown_file_drops_the_whole_stack_and_the_ingress_outsider(tmp_path: Path) -> None:
    run_id = "tdn001"
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "emu") as emu:
        target = EmulatorTarget("test emulator", emu.connection_parameters())
        options = {"run_id": run_id, "artifacts_dir": str(tmp_path), "keep_stack": "1"}
        with provisioned_stack(target, resolve_config(options, {}), report=print) as state:
            pass
        runner = SqlRunner(target, [state.password])
        create_outsider(runner, state)  # what the ingress suite creates besides the plan
        assert f"SHOW USERS: {state.names.outsider}" in objects_of_run(runner, run_id)
        teardown_run(runner, run_id)
        assert objects_of_run(runner, run_id) == []


CREATED = re.compile(
    r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?P<kind>[A-Z ]+?)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\S*<%\S+)"
)
SHARED = {"INGRESS_INTEGRATION"}  # one per account, reused by every run, never dropped (01_account.sql)


def created_objects() -> list[tuple[str, str, list[str]]]:
    """(file, kind, variables of the name) of every CREATE in sql/ and its subfolders."""
    found = []
    for path in sorted((REPO_ROOT / "sql").rglob("*.sql")):
        for statement in split_statements(path.read_text().upper()):
            match = CREATED.match(TEMPLATE_VARIABLE.sub(r"<%\1%>", statement))
            if match:
                found.append((path.name, match["kind"], TEMPLATE_VARIABLE.findall(match["name"])))
    return found


def test_every_sql_file_creates_only_what_the_teardown_file_drops() -> None:
    """Account-level objects are dropped by name; objects inside the run's database go with it."""
    teardown = split_statements((REPO_ROOT / "sql" / "90_teardown.sql").read_text().upper())
    drops = [statement for statement in teardown if statement.startswith("DROP ")]
    created = created_objects()
    missing = []
    for file, kind, variables in created:
        in_database = variables[0] == "DATABASE" and len(variables) > 1
        if in_database or variables[0] in SHARED:
            continue
        name, noun = f"<% {variables[-1]} %>", kind.split()[-1]
        if not any(name in drop and noun in drop for drop in drops):
            missing.append(f"{file}: CREATE {kind} {name}")
    assert missing == []
    assert {"ingress_outsider.sql", "02_role_and_user.sql"} <= {file for file, _, _ in created}
