"""The emulated registry with the real Docker CLI and daemon: `docker login` with a session token (the
snow CLI's JSON form) or a PAT, `docker push`/`pull`, and everything SPCS refuses refused. The storage is
the real distribution registry; images are tiny ones built here from scratch (no base, no network)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import snowflake.connector

from milvus_spcs.docker_engine import docker_engine_problem
from milvus_spcs.target import token_of
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs import images
from spcs_emulator.spcs.oci_storage import registry_binary
from spcs_emulator.spcs.processes import is_alive
from spcs_emulator.sql import ast
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.snow_cli import required_snow
from tests.emulator.sql import rows

if registry_binary() is None:
    # scripts/install-docker.sh installs both: an engine without the registry is a broken setup.
    if docker_engine_problem() is None:
        pytest.fail("docker-registry is missing: run bash scripts/install-docker.sh", pytrace=False)
    pytest.skip("no Docker setup (bash scripts/install-docker.sh)", allow_module_level=True)

USER, PASSWORD, READER = "PULLER", "pullerpassword1", "READER"
REPO = "D.PUBLIC.R"


def _engine() -> None:
    problem = docker_engine_problem()
    if problem:
        pytest.skip(f"no Docker engine: {problem}")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    state = tmp_path_factory.mktemp("registry") / "state"
    with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=state, registry=True) as emu:
        yield emu


@pytest.fixture(scope="module")
def admin(emulator: Emulator):
    conn = snowflake.connector.connect(**emulator.connection_parameters())
    cur = conn.cursor()
    for sql in (
        "CREATE DATABASE D",
        f"CREATE IMAGE REPOSITORY {REPO}",
        f"CREATE ROLE {READER}",
        f"GRANT USAGE ON DATABASE D TO ROLE {READER}",
        f"GRANT USAGE ON SCHEMA D.PUBLIC TO ROLE {READER}",
        f"GRANT READ ON IMAGE REPOSITORY {REPO} TO ROLE {READER}",
        f"CREATE USER {USER} PASSWORD = '{PASSWORD}' DEFAULT_ROLE = {READER}",
        f"GRANT ROLE {READER} TO USER {USER}",
    ):
        cur.execute(sql)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def url(admin) -> str:
    return str(rows(admin.cursor(), "SHOW IMAGE REPOSITORIES IN SCHEMA D.PUBLIC")[0]["repository_url"])


@pytest.fixture
def docker_env(tmp_path: Path) -> dict[str, str]:
    """A docker client config of its own: logins never touch the user's ~/.docker."""
    config = tmp_path / "docker-config"
    config.mkdir()
    return {**os.environ, "DOCKER_CONFIG": str(config)}


def docker(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], env=env, input=stdin, capture_output=True, text=True, timeout=300
    )


def login(env: dict[str, str], url: str, user: str, password: str) -> subprocess.CompletedProcess[str]:
    host = url.split("/", 1)[0]
    return docker(env, "login", host, "--username", user, "--password-stdin", stdin=password)


@pytest.fixture(scope="module")
def tiny_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A two-file image from scratch with a runtime label and a working directory (the notebook's place)."""
    _engine()
    context = tmp_path_factory.mktemp("tiny")
    (context / "TestMilvus.ipynb").write_text('{"cells": []}')
    (context / "other.txt").write_text("not in the working directory")
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY other.txt /etc/other.txt\nWORKDIR /home/jupyter/work\n"
        "COPY TestMilvus.ipynb ./TestMilvus.ipynb\nLABEL io.milvus-spcs.runtime=jupyter\n"
    )
    # Its own tag: another worker (pytest -n) running this module builds and removes its own.
    tag = f"milvus-spcs-test/tiny:registry-{secrets.token_hex(4)}"
    done = subprocess.run(
        ["docker", "build", "--network", "none", "--platform", "linux/amd64", "-t", tag, str(context)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    yield tag
    subprocess.run(["docker", "rmi", "--force", tag], capture_output=True)


def push(env: dict[str, str], local: str, remote: str) -> subprocess.CompletedProcess[str]:
    docker(env, "tag", local, remote)
    try:
        return docker(env, "push", remote)
    finally:
        docker(env, "rmi", remote)


def test_push_with_a_session_token_is_listed_with_its_digest_and_pulls_back(
    emulator: Emulator, admin, url: str, tiny_image: str, docker_env: dict[str, str]
) -> None:
    token = str(token_of(admin))
    done = login(docker_env, url, "0sessiontoken", json.dumps({"token": token, "expires_in": 3600}))
    assert done.returncode == 0, done.stderr
    pushed = push(docker_env, tiny_image, f"{url}/jupyter:v1")
    assert pushed.returncode == 0, pushed.stderr
    digest = pushed.stdout.split("digest: ", 1)[1].split()[0]
    listed = rows(admin.cursor(), f"SHOW IMAGES IN IMAGE REPOSITORY {REPO}")
    assert [(r["image_name"], r["tags"], r["digest"]) for r in listed] == [("jupyter", '["v1"]', digest)]
    # What the process runtime stands in with: the label's runtime and the working directory's files only.
    with emulator.account.state.lock:
        repo = emulator.account.state.catalog.get(ast.IMAGE_REPOSITORY, ("D", "PUBLIC", "R"))
        assert repo is not None
        image = images.images_of(repo)["jupyter:v1"]
    assert (image.runtime, image.platform, image.pushed) == ("jupyter", "linux/amd64", True)
    assert image.files is not None
    assert sorted(p.name for p in image.files.iterdir()) == ["TestMilvus.ipynb"]
    pulled = docker(docker_env, "pull", f"{url}/jupyter@{digest}")
    assert pulled.returncode == 0, pulled.stderr
    docker(docker_env, "rmi", f"{url}/jupyter@{digest}")


def test_push_without_credentials_is_refused(url: str, tiny_image: str, docker_env: dict[str, str]) -> None:
    pushed = push(docker_env, tiny_image, f"{url}/anon:v1")
    assert pushed.returncode != 0
    assert "no basic auth credentials" in pushed.stderr


def test_a_wrong_token_cannot_log_in(url: str, docker_env: dict[str, str]) -> None:
    done = login(docker_env, url, "0sessiontoken", json.dumps({"token": "not-a-session"}))
    assert done.returncode != 0
    assert "401" in done.stderr or "unauthorized" in done.stderr.lower()


def test_a_reader_pulls_but_cannot_push_and_loses_pull_on_revoke(
    emulator: Emulator, admin, url: str, tiny_image: str, docker_env: dict[str, str]
) -> None:
    owner_env = {**docker_env, "DOCKER_CONFIG": docker_env["DOCKER_CONFIG"] + "-owner"}
    Path(owner_env["DOCKER_CONFIG"]).mkdir()
    assert login(owner_env, url, "0sessiontoken", str(token_of(admin))).returncode == 0
    assert push(owner_env, tiny_image, f"{url}/shared:v1").returncode == 0

    reader = snowflake.connector.connect(**emulator.connection_parameters(user=USER, password=PASSWORD))
    try:
        assert login(docker_env, url, "0sessiontoken", str(token_of(reader))).returncode == 0
        refused = push(docker_env, tiny_image, f"{url}/shared:v2")
        assert refused.returncode != 0
        assert "denied" in refused.stderr.lower(), refused.stderr
        pulled = docker(docker_env, "pull", f"{url}/shared:v1")
        assert pulled.returncode == 0, pulled.stderr
        docker(docker_env, "rmi", f"{url}/shared:v1")
        admin.cursor().execute(f"REVOKE READ ON IMAGE REPOSITORY {REPO} FROM ROLE {READER}")
        try:
            gone = docker(docker_env, "pull", f"{url}/shared:v1")
            assert gone.returncode != 0
        finally:
            admin.cursor().execute(f"GRANT READ ON IMAGE REPOSITORY {REPO} TO ROLE {READER}")
    finally:
        reader.close()
    assert [
        r["tags"] for r in rows(admin.cursor(), f"SHOW IMAGES LIKE 'shared' IN IMAGE REPOSITORY {REPO}")
    ] == ['["v1"]']


def test_a_programmatic_access_token_logs_in_with_its_users_name_only(
    admin, url: str, docker_env: dict[str, str]
) -> None:
    pat = rows(
        admin.cursor(), f"ALTER USER {USER} ADD PROGRAMMATIC ACCESS TOKEN REG ROLE_RESTRICTION = '{READER}'"
    )[0]
    try:
        assert login(docker_env, url, USER.lower(), pat["token_secret"]).returncode == 0
        assert login(docker_env, url, "ACCOUNTADMIN_NOT_ME", pat["token_secret"]).returncode != 0
    finally:
        admin.cursor().execute(f"ALTER USER {USER} REMOVE PROGRAMMATIC ACCESS TOKEN REG")


# -- the front through plain HTTP -----------------------------------------------------------------------


def test_the_catalog_deletes_and_unknown_paths_are_refused(admin, url: str) -> None:
    host = url.split("/", 1)[0]
    auth = ("0sessiontoken", str(token_of(admin)))
    challenge = requests.get(f"http://{host}/v2/", timeout=10)
    assert challenge.status_code == 401
    assert challenge.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert requests.get(f"http://{host}/v2/", auth=auth, timeout=10).status_code == 200
    assert requests.get(f"http://{host}/v2/_catalog", auth=auth, timeout=10).status_code == 404
    deleted = requests.delete(f"http://{host}/v2/d/public/r/jupyter/manifests/v1", auth=auth, timeout=10)
    assert deleted.status_code == 405
    assert deleted.json()["errors"][0]["code"] == "UNSUPPORTED"
    missing = requests.get(f"http://{host}/v2/d/public/nope/x/tags/list", auth=auth, timeout=10)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_the_snow_list_tags_token_exchange(
    admin, url: str, tiny_image: str, docker_env: dict[str, str]
) -> None:
    """snow's list-tags: GET /login with Basic 0sessiontoken:{json}, then the token as Bearer."""
    host = url.split("/", 1)[0]
    session = str(token_of(admin))
    assert login(docker_env, url, "0sessiontoken", session).returncode == 0
    assert push(docker_env, tiny_image, f"{url}/tagged:v1").returncode == 0
    answer = requests.get(
        f"http://{host}/login", auth=("0sessiontoken", json.dumps({"token": session})), timeout=10
    )
    assert answer.status_code == 200
    bearer = {"Authorization": f"Bearer {answer.json()['token']}"}
    listed = requests.get(f"http://{host}/v2/d/public/r/tagged/tags/list", headers=bearer, timeout=10)
    assert listed.status_code == 200, listed.text
    assert listed.json()["tags"] == ["v1"]
    assert requests.get(f"http://{host}/v2/d/public/r/tagged/tags/list", timeout=10).status_code == 401


def test_the_registry_process_ends_with_the_emulator(tmp_path: Path) -> None:
    emu = Emulator(
        runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "s", registry=True
    ).start()
    assert emu.registry is not None
    socket_path = emu.registry.store.socket_path
    assert socket_path.exists()
    pids = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, str(tmp_path))]
    assert pids, "no registry process found"
    emu.stop()
    assert not [p for p in pids if is_alive(int(p.name))]  # a zombie is dead (here PID 1 never reaps)


def _cmdline_has(proc: Path, text: str) -> bool:
    try:
        return text in (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def test_the_snow_cli_logs_in_and_lists_the_pushed_images(
    emulator: Emulator, admin, url: str, tiny_image: str, docker_env: dict[str, str], tmp_path: Path
) -> None:
    """`snow spcs image-registry login` (docker login with a fresh session token), a push with the
    credentials it stored, then `snow spcs image-repository list-images`."""

    snow = required_snow()
    home = tmp_path / "snowflake-home"
    home.mkdir()
    entry = emulator.connections_toml("emu") + 'database = "D"\nschema = "PUBLIC"\n'
    (home / "connections.toml").write_text(entry)
    (home / "connections.toml").chmod(0o600)
    env = {**docker_env, "SNOWFLAKE_HOME": str(home)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [snow, *args, "-c", "emu", "--format", "JSON"]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    logged_in = run("spcs", "image-registry", "login")
    assert logged_in.returncode == 0, logged_in.stderr[-2000:]
    pushed = push(env, tiny_image, f"{url}/bysnow:v1")
    assert pushed.returncode == 0, pushed.stderr
    listed = run("spcs", "image-repository", "list-images", "r")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "bysnow" in [i["image_name"] for i in json.loads(listed.stdout)]


def test_a_dropped_repository_takes_its_images_along(
    emulator: Emulator, admin, tiny_image: str, docker_env: dict[str, str]
) -> None:
    cur = admin.cursor()
    cur.execute("CREATE IMAGE REPOSITORY D.PUBLIC.GONE")
    url = str(rows(cur, "SHOW IMAGE REPOSITORIES LIKE 'GONE' IN SCHEMA D.PUBLIC")[0]["repository_url"])
    assert login(docker_env, url, "0sessiontoken", str(token_of(admin))).returncode == 0
    assert push(docker_env, tiny_image, f"{url}/old:v1").returncode == 0
    cur.execute("DROP IMAGE REPOSITORY D.PUBLIC.GONE")
    cur.execute("CREATE IMAGE REPOSITORY D.PUBLIC.GONE")
    assert rows(cur, "SHOW IMAGES IN IMAGE REPOSITORY D.PUBLIC.GONE") == []
    pulled = docker(docker_env, "pull", f"{url}/old:v1")
    assert pulled.returncode != 0, "an image of the dropped repository still pulls"


def test_without_the_registry_binary_the_emulator_says_so_once_and_publishes_by_name(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from spcs_emulator import emulator as emulator_module

    monkeypatch.setenv("SPCS_EMULATOR_REGISTRY_BINARY", str(tmp_path / "no-such-registry"))
    monkeypatch.setattr(emulator_module, "_told_no_registry", False)
    caplog.set_level("WARNING", logger="spcs_emulator.emulator")
    for _ in range(2):
        with Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), registry=None) as emu:
            assert emu.registry is None
            assert emu.account.state.registry_host == emulator_module.NAMED_REGISTRY_HOST
    told = [r.message for r in caplog.records if "no image registry" in r.message]
    assert len(told) == 1, told
