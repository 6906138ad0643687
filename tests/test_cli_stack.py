"""`milvus-spcs up / status / down / janitor` against an emulator named in connections.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness_cli import cli

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def test_up_status_down(emulator_env, tmp_path: Path) -> None:
    _, env = emulator_env
    up = cli(env, "up", "--run-id", "cli001", "--artifacts-dir", str(tmp_path), cwd=tmp_path)
    assert up.returncode == 0, up.stderr[-3000:]
    assert "provisioning: wall=" in up.stdout
    assert "run cli001: database MILVUS_SPCS_CLI001_DB" in up.stdout
    assert "milvus-spcs down --run cli001" in up.stdout
    status = cli(env, "status", cwd=tmp_path)
    assert "run cli001" in status.stdout
    assert "compute pool MILVUS_SPCS_CLI001_MILVUS_POOL" in status.stdout
    down = cli(env, "down", "--run", "cli001", cwd=tmp_path)
    assert down.returncode == 0, down.stderr[-3000:]
    assert "no labelled objects" in cli(env, "status", cwd=tmp_path).stdout


def test_janitor_removes_old_runs_only(emulator_env, tmp_path: Path) -> None:
    _, env = emulator_env
    assert (
        cli(env, "up", "--run-id", "jan001", "--artifacts-dir", str(tmp_path), cwd=tmp_path).returncode == 0
    )
    young = cli(env, "janitor", "--older-than", "6h", cwd=tmp_path)
    assert "removed 0 run(s)" in young.stdout
    swept = cli(env, "janitor", "--older-than", "0s", cwd=tmp_path)
    assert "removed 1 run(s): jan001" in swept.stdout
    assert "removing run jan001" in swept.stdout  # progress, statement by statement
    assert "drop compute pool" in swept.stdout
    assert "no labelled objects" in cli(env, "status", cwd=tmp_path).stdout


# A Docker host where no engine answers. With the inherited one (CI has an engine), `images push` once
# built both images (minutes) before failing on the missing repository, and the case passed only because
# the crash's traceback quoted the source line holding the message.
NO_ENGINE = "no engine"


@pytest.mark.parametrize(
    ("args", "message", "engine"),
    [
        (("down", "--run", "BAD!"), "run id", "inherited"),
        (("janitor", "--older-than", "six hours"), "30m, 6h or 2d", "inherited"),
        (("up", "--snowflake-connection", "nope"), "no connection 'nope'", "inherited"),
        (("images", "push", "--repository", "D.S.R", "--tag", "v1"), "needs a Docker engine", NO_ENGINE),
        (
            ("images", "push", "--repository", "D.S", "--tag", "v1"),
            "must be DATABASE.SCHEMA.REPOSITORY",
            "inherited",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_happens(
    emulator_env, tmp_path: Path, args, message: str, engine: str
) -> None:
    _, env = emulator_env
    if engine == NO_ENGINE:
        env = {**env, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = cli(env, *args, cwd=tmp_path)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stderr  # a refusal, not a crash that happens to quote the message


def test_a_connections_file_others_can_read_is_named_in_a_warning(emulator_env, tmp_path: Path) -> None:
    """The red team's item 19: a 0644 connections.toml holding the password was used silently."""
    emu, env = emulator_env
    home = tmp_path / "home"
    home.mkdir()
    (home / "connections.toml").write_text(emu.connections_toml("emu"))
    (home / "connections.toml").chmod(0o644)
    status = cli({**env, "SNOWFLAKE_HOME": str(home)}, "status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr[-3000:]
    assert "mode 0644" in status.stderr
    assert "chmod 0600" in status.stderr
    assert emu.admin_password not in status.stderr
    (home / "connections.toml").chmod(0o600)
    quiet = cli({**env, "SNOWFLAKE_HOME": str(home)}, "status", cwd=tmp_path)
    assert quiet.returncode == 0
    assert "chmod 0600" not in quiet.stderr
