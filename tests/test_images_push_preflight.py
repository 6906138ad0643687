"""`milvus-spcs images push` with an engine answering: a repository that does not exist is refused at
once, before both images are built (minutes), as a refusal and not as a connector traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import snowflake.connector

from milvus_spcs.docker_engine import docker_engine_problem
from tests.harness_cli import cli

pytestmark = pytest.mark.skipif(docker_engine_problem() is not None, reason="no Docker engine answers")


@pytest.mark.parametrize(
    ("repository", "message"),
    [
        ("NODB.PUBLIC.REPO", "Schema 'NODB.PUBLIC' does not exist or not authorized"),
        ("MILVUS_SPCS_PUSHPF.PUBLIC.NOREPO", "no image repository MILVUS_SPCS_PUSHPF.PUBLIC.NOREPO"),
    ],
)
def test_a_missing_repository_is_refused_before_building(
    emulator_env, tmp_path: Path, repository: str, message: str
) -> None:
    emu, env = emulator_env
    with snowflake.connector.connect(**emu.connection_parameters()) as conn:
        conn.cursor().execute("CREATE DATABASE IF NOT EXISTS MILVUS_SPCS_PUSHPF")
    done = cli(env, "images", "push", "--repository", repository, "--tag", "v1", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "CREATE IMAGE REPOSITORY" in done.stderr  # what to do about it
    # Nothing was built: the build writes its log from its first command. (A time bound could not tell:
    # with the layers cached, both images build in under 20 s.)
    announced = re.search(r"the build's log, once the repository is found: (\S+)", done.stdout)
    assert announced, done.stdout
    assert not Path(announced.group(1)).exists(), "the images were built before the repository was looked up"
