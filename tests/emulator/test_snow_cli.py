"""The real Snowflake CLI (`snow`, in its own virtualenv: it pins an older connector) against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest
import snowflake.connector

from spcs_emulator.emulator import Emulator
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.guide import run_guide_setup
from tests.emulator.snow_cli import SNOW, required_snow
from tests.emulator.sql import wait_status


@pytest.fixture(scope="module", autouse=True)
def require_snow() -> None:
    required_snow()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, dict[str, str]]]:
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress()) as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        cur = conn.cursor()
        run_guide_setup(emu, cur)
        cur.execute("USE ROLE SYSADMIN")
        wait_status(cur, "MILVUS", "RUNNING")
        wait_status(cur, "JUPYTER", "RUNNING")
        conn.close()
        home = tmp_path_factory.mktemp("snowflake-home")
        entry = emu.connections_toml("emu") + 'database = "MILVUS_DEMO"\nschema = "PUBLIC"\n'
        (home / "connections.toml").write_text(entry)
        (home / "connections.toml").chmod(0o600)  # snow refuses files others can read
        yield emu, {**os.environ, "SNOWFLAKE_HOME": str(home)}


def snow(env: dict[str, str], *args: str) -> object:
    assert SNOW is not None
    done = subprocess.run(
        [SNOW, *args, "-c", "emu", "--format", "JSON"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_compute_pool_list(stack) -> None:
    _, env = stack
    pools = {p["name"]: p["state"] for p in snow(env, "spcs", "compute-pool", "list")}
    assert pools == {"MILVUS_COMPUTE_POOL": "ACTIVE", "JUPYTER_COMPUTE_POOL": "ACTIVE"}


def test_service_list_endpoints(stack) -> None:
    _, env = stack
    endpoints = snow(env, "spcs", "service", "list-endpoints", "jupyter")
    assert [(e["name"], e["port"], e["is_public"]) for e in endpoints] == [("jupyter", 8888, True)]


def test_service_logs(stack) -> None:
    _, env = stack
    logs = snow(env, "spcs", "service", "logs", "milvus", "--container-name", "milvus", "--instance-id", "0")
    assert logs == {"message": "current log of milvus"}


def test_service_list_containers(stack) -> None:
    _, env = stack
    containers = snow(env, "spcs", "service", "list-containers", "milvus")
    assert [(c["container_name"], c["status"], c["instance_id"]) for c in containers] == [
        ("milvus", "READY", "0")
    ]


def test_sql_show_grants_to_role(stack) -> None:
    _, env = stack
    grants = snow(env, "sql", "-q", "show grants to role MILVUS_ROLE")
    privileges = {(g["privilege"], g["granted_on"], g["name"]) for g in grants}
    assert ("USAGE", "DATABASE", "MILVUS_DEMO") in privileges
    assert ("READ", "STAGE", "MILVUS_DEMO.PUBLIC.FILES") in privileges
    assert ("USAGE", "SERVICE", "MILVUS_DEMO.PUBLIC.JUPYTER") in privileges


def test_image_repository_url_and_registry_token(stack) -> None:
    _, env = stack
    url = snow(env, "spcs", "image-repository", "url", "milvus_repo")
    assert url["message"].endswith("/milvus_demo/public/milvus_repo")
    token = snow(env, "spcs", "image-registry", "token")
    assert token["expires_in"] > 0
    assert token["token"]
