"""Services with several instances in the docker runtime (issue 21, item 2), with the real engine: one
engine container per instance, each answering on its instance's own loopback address; the ingress
spreads requests over the READY instances; the service's DNS name answers, inside the engine's network,
with every instance's container (each carries it as a network alias); each instance has its own block
volume; ALTER SERVICE ... SET MIN_INSTANCES = 1 removes instance 1's container.

The image is the Debian root filesystem the stand-ins are built on with a tiny HTTP server that answers
with its container's hostname, so an answer tells which instance served it. One emulator and one image
build for the module; the tests run in order (the last one scales the service in).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import snowflake.connector

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.docker_runtime import INSTANCE_LABEL
from spcs_emulator.spcs.lifecycle import ENDPOINT_PROVISIONING_TEXT
from tests.emulator.docker_cli import ROOTFS, docker
from tests.emulator.sql import rows, wait_status

pytestmark = pytest.mark.slow

SERVICE = "D.PUBLIC.WHO"

SERVER = textwrap.dedent(
    """
    import http.server, socket

    class Who(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = socket.gethostname().encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    http.server.ThreadingHTTPServer(("", 8080), Who).serve_forever()
    """
)

SPEC = textwrap.dedent(
    """
    spec:
      containers:
      - name: web
        image: /d/public/r/who:v1
        readinessProbe:
          port: 8080
          path: /
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


# Resolves argv[1] as a program in the container would (glibc, the container's resolv.conf): prints
# the seconds it took and the addresses.
LOOKUP = """
import json, socket, sys, time
start = time.monotonic()
found = sorted({a[4][0] for a in socket.getaddrinfo(sys.argv[1], 8080)})
print(json.dumps([time.monotonic() - start, found]))
"""


def resolve(container: dict[str, Any], name: str) -> tuple[float, list[str]]:
    """How long ``name`` took to resolve inside ``container``, and its addresses. The engine's DNS
    never answers a name it does not know on an internal network: each such step of a lookup waits
    for the resolver's timeout (5 s)."""
    seconds, addresses = json.loads(docker("exec", container["Id"], "python3", "-c", LOOKUP, name))
    return float(seconds), list(addresses)


class Deployed:
    """The module's emulator, an admin cursor and the session token the ingress accepts."""

    def __init__(self, emulator: Emulator, cur: Any, token: str) -> None:
        self.emulator, self.cur, self.token = emulator, cur, token

    def containers(self) -> dict[int, dict[str, Any]]:
        """This emulator's engine containers of the service, by instance id (from the container's name,
        ``spcs-<emulator>-<service key>-<instance id>-<container>``)."""
        runtime = self.emulator._docker_runtime
        assert runtime is not None
        ids = docker("ps", "-aq", "--filter", f"label={INSTANCE_LABEL}={runtime.instance}").split()
        found = []
        for container_id in ids:  # one by one: a container removed since `ps` (scaling in) is skipped
            done = subprocess.run(
                ["docker", "inspect", container_id], capture_output=True, text=True, timeout=60
            )
            if done.returncode != 0 and "No such object" in done.stderr:
                continue
            assert done.returncode == 0, done.stderr
            found += json.loads(done.stdout)
        return {int(c["Name"].rsplit("-", 2)[-2]): c for c in found}

    def served_by_ingress(self, host: str, requests_made: int) -> set[str]:
        """The hostnames of the containers that answered ``requests_made`` requests through the ingress."""
        headers = {"Authorization": f'Snowflake Token="{self.token}"'}
        seen = set()
        for _ in range(requests_made):
            answer = requests.get(f"http://{host}/", headers=headers, timeout=10)
            assert answer.status_code == 200, answer.text
            seen.add(answer.text)
        return seen

    def instances(self) -> list[dict[str, Any]]:
        return rows(self.cur, f"SHOW SERVICE INSTANCES IN SERVICE {SERVICE}")

    def network_ip(self, container: dict[str, Any]) -> str:
        runtime = self.emulator._docker_runtime
        assert runtime is not None
        return str(container["NetworkSettings"]["Networks"][runtime.network_name]["IPAddress"])


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """An emulator with the docker runtime running WHO, MIN_INSTANCES = MAX_INSTANCES = 2, both READY."""
    from milvus_spcs.docker_engine import docker_engine_problem, image_labels
    from milvus_spcs.target import token_of

    if docker_engine_problem() is not None:
        pytest.skip(f"no Docker engine: {docker_engine_problem()}")
    if image_labels(ROOTFS) is None:
        pytest.fail(f"{ROOTFS} is missing: run milvus-spcs images build", pytrace=False)
    tmp = tmp_path_factory.mktemp("instances-docker")
    runtime_instance = ""
    try:
        with Emulator(state_dir=tmp / "state", registry=True, container_runtime="docker") as emu:
            assert emu._docker_runtime is not None
            runtime_instance = emu._docker_runtime.instance
            conn = snowflake.connector.connect(**emu.connection_parameters())
            try:
                cur = conn.cursor()
                for sql in (
                    "CREATE DATABASE D",
                    # The public endpoint's ingress needs it (docs: the account's OAuth integration).
                    "CREATE SECURITY INTEGRATION I TYPE = OAUTH OAUTH_CLIENT = SNOWSERVICES_INGRESS "
                    "ENABLED = TRUE",
                    "CREATE IMAGE REPOSITORY D.PUBLIC.R",
                    "CREATE COMPUTE POOL P MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS",
                ):
                    cur.execute(sql)
                url = rows(cur, "SHOW IMAGE REPOSITORIES IN SCHEMA D.PUBLIC")[0]["repository_url"]
                context = tmp / "who"
                context.mkdir()
                (context / "server.py").write_text(SERVER)
                (context / "Dockerfile").write_text(
                    f'FROM {ROOTFS}\nCOPY server.py /srv/server.py\nCMD ["python3", "/srv/server.py"]\n'
                )
                token = str(token_of(conn))
                try:
                    docker("build", "--network", "none", "-t", f"{url}/who:v1", str(context))
                    env = {**os.environ, "DOCKER_CONFIG": str(tmp / "docker-config")}
                    host = url.split("/", 1)[0]
                    docker("login", host, "-u", "0sessiontoken", "--password-stdin", env=env, stdin=token)
                    docker("push", f"{url}/who:v1", env=env)
                finally:  # the local tag goes however the build or push went
                    subprocess.run(["docker", "rmi", "-f", f"{url}/who:v1"], capture_output=True, check=False)
                cur.execute(
                    f"CREATE SERVICE {SERVICE} IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$ "
                    "MIN_INSTANCES = 2 MAX_INSTANCES = 2"
                )
                wait_status(cur, SERVICE, "RUNNING", timeout=120)
                deployed = Deployed(emu, cur, token)

                def both_ready() -> Probe[None]:
                    statuses = [i["status"] for i in deployed.instances()]
                    return Probe(statuses == ["READY", "READY"], state=str(statuses))

                # RUNNING once MIN_READY_INSTANCES are (it defaults to MIN_INSTANCES); the tests need both.
                wait_for(both_ready, what="both instances to be READY", timeout=120, interval=0.2)
                yield deployed
            finally:
                conn.close()
    finally:
        # The emulator removes its containers and network when it stops; whatever it missed goes here,
        # and the test run says so.
        left = []
        if runtime_instance:
            label = f"label={INSTANCE_LABEL}={runtime_instance}"
            left = docker("ps", "-aq", "--filter", label).split()
            networks = docker("network", "ls", "-q", "--filter", label).split()
            if left:
                subprocess.run(["docker", "rm", "-f", *left], capture_output=True, check=False)
            if networks:
                subprocess.run(["docker", "network", "rm", *networks], capture_output=True, check=False)
            left += networks
        assert left == [], f"the emulator left engine containers or networks: {left}"


def test_each_instance_runs_its_own_container_on_its_own_address(deployed: Deployed) -> None:
    containers = deployed.containers()
    assert sorted(containers) == [0, 1]
    assert containers[0]["Id"] != containers[1]["Id"]
    instances = deployed.instances()
    assert [(i["instance_id"], i["status"]) for i in instances] == [("0", "READY"), ("1", "READY")]
    addresses = [i["ip_address"] for i in instances]
    assert len(set(addresses)) == 2
    service = rows(deployed.cur, "SHOW SERVICES LIKE 'WHO' IN SCHEMA D.PUBLIC")[0]
    assert (service["current_instances"], service["target_instances"]) == (2, 2)
    # The relay of each instance's address reaches that instance's container, not the other's.
    for instance, address in zip(instances, addresses, strict=True):
        answer = requests.get(f"http://{address}:8080/", timeout=10)
        assert answer.status_code == 200
        assert answer.text == containers[int(instance["instance_id"])]["Config"]["Hostname"]


def test_the_ingress_reaches_both_instances(deployed: Deployed) -> None:
    def ingress_url() -> Probe[str]:
        url = str(rows(deployed.cur, f"SHOW ENDPOINTS IN SERVICE {SERVICE}")[0]["ingress_url"])
        return Probe(url != ENDPOINT_PROVISIONING_TEXT, url, state=url)

    host = wait_for(ingress_url, what="the ingress URL", timeout=30, interval=0.1)
    # Round robin over the two READY instances: both within a few requests.
    assert deployed.served_by_ingress(host, 4) == {
        c["Config"]["Hostname"] for c in deployed.containers().values()
    }


def test_the_service_dns_name_resolves_to_every_instance_inside_the_engine_network(
    deployed: Deployed,
) -> None:
    containers = deployed.containers()
    dns_name = rows(deployed.cur, "SHOW SERVICES LIKE 'WHO' IN SCHEMA D.PUBLIC")[0]["dns_name"]
    expected = sorted(deployed.network_ip(c) for c in containers.values())
    for container in containers.values():  # from either instance, the full name and the short one
        for name in (dns_name, "who"):
            seconds, addresses = resolve(container, name)
            assert addresses == expected, name
            # At once, as on SPCS: no step of the lookup waits for an answer the engine never gives.
            assert seconds < 4, f"{name} took {seconds:.1f} s to resolve"


def test_each_instance_has_its_own_block_volume(deployed: Deployed) -> None:
    containers = deployed.containers()
    sources = {
        i: next(m["Source"] for m in c["Mounts"] if m["Destination"] == "/data")
        for i, c in containers.items()
    }
    assert sources[0] != sources[1]
    exists = "import os, sys\nprint(os.path.exists(sys.argv[1]))\n"
    for mine, other in ((0, 1), (1, 0)):
        path = f"/data/written-by-{mine}"
        write = f"open({path!r}, 'w').write('instance {mine}')"
        docker("exec", containers[mine]["Id"], "python3", "-c", write)
        assert docker("exec", containers[mine]["Id"], "cat", path) == f"instance {mine}"
        assert docker("exec", containers[other]["Id"], "python3", "-c", exists, path) == "False"
    assert Path(sources[0], "written-by-0").read_text() == "instance 0"


def test_scaling_in_removes_instance_ones_container(deployed: Deployed) -> None:
    before = deployed.containers()
    deployed.cur.execute(f"ALTER SERVICE {SERVICE} SET MIN_INSTANCES = 1")

    def scaled_in() -> Probe[dict[int, dict[str, Any]]]:
        left = deployed.containers()
        return Probe(sorted(left) == [0], left, state=str(sorted(left)))

    left = wait_for(scaled_in, what="instance 1's container to go", timeout=30, interval=0.2)
    assert left is not None
    assert left[0]["Id"] == before[0]["Id"]  # instance 0 kept running, untouched
    assert [(i["instance_id"], i["status"]) for i in deployed.instances()] == [("0", "READY")]
    service = rows(deployed.cur, "SHOW SERVICES LIKE 'WHO' IN SCHEMA D.PUBLIC")[0]
    assert (service["status"], service["current_instances"], service["target_instances"]) == (
        "RUNNING",
        1,
        1,
    )
    # The engine's DNS answers with instance 0's container alone once instance 1's is gone.
    assert resolve(left[0], "who")[1] == [deployed.network_ip(left[0])]
    host = rows(deployed.cur, f"SHOW ENDPOINTS IN SERVICE {SERVICE}")[0]["ingress_url"]
    assert deployed.served_by_ingress(host, 3) == {left[0]["Config"]["Hostname"]}
