"""The janitor cannot be fooled (issue 7, item 5): labels it cannot trust are skipped and named, and a
run's age is the server's `created_on`, measured on the server's clock, never the comment's created=."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import snowflake.connector

from milvus_spcs.stack.janitor import find_runs, scan_labels, server_now, sweep
from milvus_spcs.stack.sql_runner import SqlRunner
from milvus_spcs.target import EmulatorTarget
from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime

REPO = Path(__file__).resolve().parents[1]

# One object per way a label can be wrong; each is skipped, named, and never crashes anything.
BAD_LABELS = {
    ("database", "BAD_DATE_DB"): "milvus-spcs run=bad001 created=not-a-date",
    ("role", "NAIVE_ROLE"): "milvus-spcs run=bad002 created=2000-01-01T00:00:00",
    ("warehouse", "FUTURE_WH"): "milvus-spcs run=bad003 created=2100-01-01T00:00:00Z",
    ("role", "SHORT_ID_ROLE"): "milvus-spcs run=bad04 created=2026-01-01T00:00:00Z",
    ("user", "NEWLINE_USER"): "milvus-spcs run=bad005 created=2026-01-01T00:00:00Z\n",
}
FORGED = "milvus-spcs run=frg001 created=2000-01-01T00:00:00Z"  # claims 26 years on a fresh object


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "state") as emu:
        yield emu


@pytest.fixture
def runner(emulator: Emulator) -> SqlRunner:
    return SqlRunner(EmulatorTarget("test emulator", emulator.connection_parameters()), [])


@pytest.fixture
def env(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "snowflake-home"
    home.mkdir()
    (home / "connections.toml").write_text(emulator.connections_toml("emu"))
    (home / "connections.toml").chmod(0o600)
    return {
        **os.environ,
        "SNOWFLAKE_HOME": str(home),
        "MILVUS_SPCS_SNOWFLAKE_CONNECTION": "emu",
        "PYTHONPATH": str(REPO / "src"),
        "COLUMNS": "300",
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "milvus_spcs.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def create(emulator: Emulator, objects: dict[tuple[str, str], str]) -> None:
    conn = snowflake.connector.connect(**emulator.connection_parameters())
    try:
        cur = conn.cursor()
        for (kind, name), comment in objects.items():
            extra = " PASSWORD = 'a-password-of-20-chars'" if kind == "user" else ""
            # the roles a run's objects have, so that the teardown may drop them
            cur.execute(f"USE ROLE {'USERADMIN' if kind in ('role', 'user') else 'SYSADMIN'}")
            cur.execute(f"CREATE {kind.upper()} {name}{extra} COMMENT = $${comment}$$")
    finally:
        conn.close()


def names_of(emulator: Emulator, show: str) -> set[str]:
    conn = snowflake.connector.connect(**emulator.connection_parameters())
    try:
        cur = conn.cursor()
        cur.execute(show)
        column = [d[0] for d in cur.description].index("name")
        return {row[column] for row in cur.fetchall()}
    finally:
        conn.close()


def test_bad_labels_are_skipped_and_named_not_fatal(emulator: Emulator, runner: SqlRunner) -> None:
    create(emulator, BAD_LABELS)
    scan = scan_labels(runner)
    assert scan.runs == {}
    skipped = {s.object: s.reason for s in scan.skipped}
    assert set(skipped) == {f"{kind} {name}" for kind, name in BAD_LABELS}
    assert "not a date" in skipped["database BAD_DATE_DB"]
    assert "no time zone" in skipped["role NAIVE_ROLE"]
    assert "after the server created" in skipped["warehouse FUTURE_WH"]
    assert "not a label" in skipped["role SHORT_ID_ROLE"]
    assert find_runs(runner) == {}  # the preflight's view: same signature, same type


def test_status_janitor_and_down_report_the_skips_and_do_not_crash(
    emulator: Emulator, env: dict[str, str]
) -> None:
    create(emulator, BAD_LABELS)
    for args in (("status",), ("janitor", "--older-than", "0s"), ("down", "--run", "bad002")):
        done = cli(env, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr[-3000:])
        output = done.stdout + done.stderr
        for kind, name in BAD_LABELS:
            assert f"skipped {kind} {name}" in output, (args, output)
    assert "removed 0 run(s)" in cli(env, "janitor", "--older-than", "0s").stdout
    assert {"BAD_DATE_DB"} <= names_of(emulator, "SHOW DATABASES")  # skipped means left alone


def test_a_forged_old_label_on_a_fresh_object_is_not_swept(emulator: Emulator, env: dict[str, str]) -> None:
    create(
        emulator, {("database", "MILVUS_SPCS_FRG001_DB"): FORGED, ("role", "MILVUS_SPCS_FRG001_ROLE"): FORGED}
    )
    janitor_run = cli(env, "janitor", "--older-than", "6h")
    assert janitor_run.returncode == 0, janitor_run.stderr[-3000:]
    assert "removed 0 run(s)" in janitor_run.stdout
    assert "MILVUS_SPCS_FRG001_DB" in names_of(emulator, "SHOW DATABASES")
    status = cli(env, "status").stdout
    assert "run frg001 created" in status
    assert "2000-01-01" not in status  # the age shown is the server's created_on


def test_the_age_is_the_servers_not_the_clients(emulator: Emulator, runner: SqlRunner) -> None:
    """The age is the server's CURRENT_TIMESTAMP() minus the server's created_on (the janitor never
    reads this machine's clock, so a skewed client cannot make a fresh run look old)."""
    create(emulator, {("database", "MILVUS_SPCS_FRG001_DB"): FORGED})
    now = server_now(runner)
    assert abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert sweep(runner, dt.timedelta(hours=6)) == []
    assert "MILVUS_SPCS_FRG001_DB" in names_of(emulator, "SHOW DATABASES")
    # the run's age really is from created_on: with no minimum age it goes
    assert [run.run_id for run in sweep(runner, dt.timedelta(0))] == ["frg001"]
    assert "MILVUS_SPCS_FRG001_DB" not in names_of(emulator, "SHOW DATABASES")


def test_a_label_on_someone_elses_old_object_does_not_age_a_live_run(
    emulator: Emulator, runner: SqlRunner
) -> None:
    """The reviewer's attack: a comment is writable by any owner, so an old warehouse of someone else
    relabelled `run=live01 created=2020...` made live run live01 look a year old, and the janitor swept
    it. Only names the run creates count towards it; anything else carrying its label is skipped."""
    from spcs_emulator.sql import ast

    live = "milvus-spcs run=live01 created=" + dt.datetime.now(dt.UTC).isoformat()
    forged = "milvus-spcs run=live01 created=2020-01-01T00:00:00+00:00"
    create(emulator, {("database", "MILVUS_SPCS_LIVE01_DB"): live, ("warehouse", "MALLORY_OLD_WH"): forged})
    old = emulator.account.state.catalog.get(ast.WAREHOUSE, ("MALLORY_OLD_WH",))
    assert old is not None
    old.created_on -= dt.timedelta(days=365)  # stands for a warehouse the attacker has owned for a year
    scan = scan_labels(runner)
    assert scan.runs["live01"].objects == ["database MILVUS_SPCS_LIVE01_DB"]
    skipped = {s.object: s for s in scan.skipped}
    assert "not a name run live01 creates" in skipped["warehouse MALLORY_OLD_WH"].reason
    assert sweep(runner, dt.timedelta(hours=2)) == []
    assert "MILVUS_SPCS_LIVE01_DB" in names_of(emulator, "SHOW DATABASES")


def test_names_with_escape_sequences_reach_the_terminal_escaped(
    emulator: Emulator, env: dict[str, str]
) -> None:
    """Issue 16, item 18: status, janitor and down printed object names raw; a name someone else chose
    could carry terminal escape sequences (clear the screen, retitle the window, hide lines)."""
    hostile = "EVIL\x1b[2J\x1b]0;pwned\x07DB"
    create(
        emulator, {("database", f'"{hostile}"'): "milvus-spcs run=esc001 created=2020-01-01T00:00:00+00:00"}
    )
    for args in (("status",), ("janitor", "--older-than", "0s"), ("down", "--run", "esc001")):
        done = cli(env, *args)
        output = done.stdout + done.stderr
        assert "\x1b" not in output, (args, output)
        assert "\x07" not in output, (args, output)
        assert "EVIL\\x1b[2J" in output, (args, output)
