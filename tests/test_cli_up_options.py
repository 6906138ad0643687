"""`milvus-spcs up` checks its options before it resolves (or connects to) the target."""

from __future__ import annotations

import os
from pathlib import Path

from tests.harness_cli import cli


def test_a_bad_specs_dir_is_refused_before_the_connection_is_looked_up(tmp_path: Path) -> None:
    env = {**os.environ, "SNOWFLAKE_HOME": str(tmp_path / "home")}  # no connections.toml at all
    result = cli(
        env, "up", "--snowflake-connection", "nosuch", "--specs-dir", str(tmp_path / "x"), cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"--specs-dir '{tmp_path / 'x'}' is not a folder" in result.stderr
    assert "connections.toml" not in result.stderr


def test_a_specs_dir_without_both_specs_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "milvus.yaml").write_text("spec: {}\n")
    env = {**os.environ, "SNOWFLAKE_HOME": str(tmp_path / "home")}
    result = cli(env, "up", "--snowflake-connection", "nosuch", "--specs-dir", "specs", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "lacks jupyter.yaml" in result.stderr
