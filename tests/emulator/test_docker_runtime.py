"""The emulator's docker runtime with the real Docker engine and registry: a service runs its pushed
image, pulled by digest; it is confined as docs/security.md says, reachable on its own address through
the relay, cut off from everything outside, restarted and counted after a crash; its block volume
survives SUSPEND/RESUME; nothing of it is left once the service or the emulator is gone.

The image is small (the Debian root filesystem the stand-ins are built on, with `python3 -m http.server`),
so that the engine, not Milvus, is what these tests exercise."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import snowflake.connector

from milvus_spcs.docker_engine import docker_engine_problem, image_labels
from milvus_spcs.target import token_of
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.docker_runtime import INSTANCE_LABEL
from tests.emulator.docker_cli import ROOTFS, docker
from tests.emulator.sql import rows, wait_status

SERVICE = "D.PUBLIC.WEB"

if docker_engine_problem() is not None:
    pytest.skip(f"no Docker engine: {docker_engine_problem()}", allow_module_level=True)
if image_labels(ROOTFS) is None:
    pytest.fail(f"{ROOTFS} is missing: run milvus-spcs images build", pytrace=False)

SPEC = textwrap.dedent(
    """
    spec:
      containers:
      - name: web
        image: /d/public/r/web:v1
        env:
          GREETING: hello
        readinessProbe:
          port: 8080
          path: /
        resources:
          limits:
            cpu: 500m
            memory: 256Mi
        volumeMounts:
        - name: data
          mountPath: /data
      endpoints:
      - name: web
        port: 8080
        public: true
      volumes:
      - name: data
        source: block
        size: 1Gi
    """
)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    state = tmp_path_factory.mktemp("docker-runtime") / "state"
    with Emulator(state_dir=state, registry=True, container_runtime="docker") as emu:
        assert emu.container_runtime == "docker"
        yield emu


@pytest.fixture(scope="module")
def admin(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory):
    conn = snowflake.connector.connect(**emulator.connection_parameters())
    cur = conn.cursor()
    for sql in (
        "CREATE DATABASE D",
        "CREATE IMAGE REPOSITORY D.PUBLIC.R",
        "CREATE COMPUTE POOL P MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS",
    ):
        cur.execute(sql)
    url = rows(cur, "SHOW IMAGE REPOSITORIES IN SCHEMA D.PUBLIC")[0]["repository_url"]
    context = tmp_path_factory.mktemp("web")
    (context / "Dockerfile").write_text(
        f"FROM {ROOTFS}\nWORKDIR /srv\nLABEL io.milvus-spcs.runtime=milvus-lite\n"
        'CMD ["python3", "-m", "http.server", "8080"]\n'
    )
    docker("build", "--network", "none", "-t", f"{url}/web:v1", str(context))
    config = tmp_path_factory.mktemp("docker-config")
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    host = url.split("/", 1)[0]
    try:
        docker("login", host, "-u", "0sessiontoken", "--password-stdin", env=env, stdin=str(token_of(conn)))
        docker("push", f"{url}/web:v1", env=env)
        docker("tag", f"{url}/web:v1", f"{url}/web:v2")
        docker("push", f"{url}/web:v2", env=env)
    finally:  # the local tags go however the pushes went (the engine keeps nothing of the test)
        tags = [f"{url}/web:v1", f"{url}/web:v2"]
        subprocess.run(["docker", "rmi", "-f", *tags], capture_output=True, check=False)
    cur.execute(f"CREATE SERVICE {SERVICE} IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$")
    wait_status(cur, SERVICE, "RUNNING", timeout=120)
    yield cur
    conn.close()


def containers(emulator: Emulator) -> list[dict]:
    assert emulator._docker_runtime is not None
    label = f"{INSTANCE_LABEL}={emulator._docker_runtime.instance}"
    found = []
    for container_id in docker("ps", "-aq", "--filter", f"label={label}").split():
        # One removed between `ps` and `inspect` (a restart replacing it) is gone, not an error.
        done = subprocess.run(["docker", "inspect", container_id], capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            found += json.loads(done.stdout)
        else:
            assert "No such object" in done.stderr, done.stderr
    return found


def service_ip(emulator: Emulator) -> str:
    return emulator.control.services[("D", "PUBLIC", "WEB")].ip


def test_the_service_runs_its_pushed_image_by_digest_confined(emulator: Emulator, admin) -> None:
    [web] = containers(emulator)
    repository_url = rows(admin, "SHOW IMAGE REPOSITORIES IN SCHEMA D.PUBLIC")[0]["repository_url"]
    digest = rows(admin, "SHOW IMAGES IN IMAGE REPOSITORY D.PUBLIC.R")[0]["digest"]
    assert web["Config"]["Image"] == f"{repository_url}/web@{digest}"
    host = web["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Privileged"] is False
    assert (host["NanoCpus"], host["Memory"]) == (500_000_000, 256 * 2**20)  # resources.limits
    assert host["PortBindings"] in ({}, None)  # nothing published: the relay is the way in
    # No host path but the service's own: its volume and the platform's session token (read-only),
    # both inside the emulator's state directory.
    binds = {m["Destination"]: m for m in web["Mounts"] if m["Type"] == "bind"}
    assert sorted(binds) == ["/data", "/snowflake/session"]
    assert (binds["/data"]["RW"], binds["/snowflake/session"]["RW"]) == (True, False)
    assert all(Path(m["Source"]).is_relative_to(emulator.state_dir) for m in binds.values())
    assert "GREETING=hello" in web["Config"]["Env"]
    [network] = web["NetworkSettings"]["Networks"]
    assert json.loads(docker("network", "inspect", network))[0]["Internal"] is True


def test_the_endpoint_answers_on_the_services_own_address(emulator: Emulator, admin) -> None:
    answer = requests.get(f"http://{service_ip(emulator)}:8080/", timeout=10)
    assert answer.status_code == 200


def test_the_container_has_no_route_out(emulator: Emulator, admin) -> None:
    [web] = containers(emulator)
    probe = (
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=3)\n    print('open')\n"
        "except OSError as e:\n    print('refused', e)\n"
    )
    out = docker("exec", web["Id"], "python3", "-c", probe)
    assert out.startswith("refused"), out


def test_a_crash_is_restarted_counted_and_logged(emulator: Emulator, admin) -> None:
    requests.get(f"http://{service_ip(emulator)}:8080/crash-marker", timeout=10)
    emulator.control.crash_container("WEB", "web")

    def restarted() -> Probe[dict]:
        [row] = rows(admin, f"SHOW SERVICE CONTAINERS IN SERVICE {SERVICE}")
        return Probe(int(row["restart_count"]) >= 1 and row["status"] == "READY", row, state=str(row))

    wait_for(restarted, what="the restarted container to be READY", timeout=60, interval=0.5)
    previous = rows(admin, f"CALL SYSTEM$GET_SERVICE_LOGS('{SERVICE}', '0', 'web', 100, TRUE)")
    assert "crash-marker" in str(previous[0])


def test_the_block_volume_survives_suspend_and_resume(emulator: Emulator, admin) -> None:
    [web] = containers(emulator)
    docker("exec", web["Id"], "python3", "-c", "open('/data/kept', 'w').write('still here')")
    admin.execute(f"ALTER SERVICE {SERVICE} SUSPEND")
    wait_status(admin, SERVICE, "SUSPENDED", timeout=60)
    wait_for(
        lambda: Probe(not containers(emulator), state="still there"),
        what="the suspended service's container to go",
        timeout=30,
        interval=0.2,
    )
    admin.execute(f"ALTER SERVICE {SERVICE} RESUME")
    wait_status(admin, SERVICE, "RUNNING", timeout=120)
    [again] = containers(emulator)
    assert docker("exec", again["Id"], "cat", "/data/kept") == "still here"


def test_an_upgrade_runs_the_new_spec_on_the_same_volume(emulator: Emulator, admin) -> None:
    [web] = containers(emulator)
    docker("exec", web["Id"], "python3", "-c", "open('/data/before-upgrade', 'w').write('kept')")
    admin.execute(f"ALTER SERVICE {SERVICE} FROM SPECIFICATION $${SPEC.replace('web:v1', 'web:v2')}$$")

    def upgraded() -> Probe[dict]:
        row = rows(admin, "SHOW SERVICES LIKE 'WEB' IN SCHEMA D.PUBLIC")[0]
        containers_now = rows(admin, f"SHOW SERVICE CONTAINERS IN SERVICE {SERVICE}")
        done = row["status"] == "RUNNING" and row["is_upgrading"] == "false"
        return Probe(done, row, state=f"{row['status']} {row['is_upgrading']} {containers_now}")

    wait_for(upgraded, what="the upgraded service to run", timeout=120, interval=0.5)
    [again] = containers(emulator)
    assert again["Config"]["Image"].split("@")[0].endswith("/web")
    assert docker("exec", again["Id"], "cat", "/data/before-upgrade") == "kept"


def test_drop_leaves_no_container(emulator: Emulator, admin) -> None:
    admin.execute(f"DROP SERVICE {SERVICE} FORCE")

    def gone() -> Probe[None]:
        left = containers(emulator)
        return Probe(not left, state=str([c["Name"] for c in left]))

    wait_for(gone, what="the dropped service's container to go", timeout=30, interval=0.5)


def test_the_platform_credential_cannot_push(emulator: Emulator, admin) -> None:
    assert emulator.registry is not None
    user, password = emulator.registry.platform_credentials
    host = emulator.account.state.registry_host
    answer = requests.post(
        f"http://{host}/v2/d/public/r/web/blobs/uploads/", auth=(user, password), timeout=10
    )
    assert answer.status_code == 403
