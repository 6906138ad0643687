"""Services with several instances in the process runtime (issue 21 item 2), for real: every instance
is a real local HTTP server on its own loopback address, reached directly, through the real ingress
proxy (a session token, round robin over the READY instances) and by its service DNS name from another
service's container (nss_wrapper); ALTER SERVICE ... SET MIN_INSTANCES scales them and the real
``snow`` CLI does it as the issue's done-when says (``snow spcs service set`` then ``list-instances``).

One emulator for the module: each test leaves the service ``WEB`` with its two instances READY.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import snowflake.connector

from milvus_spcs.target import token_of
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs import dns, runtime_kinds
from spcs_emulator.spcs.processes import descendants, is_alive
from spcs_emulator.spcs.runtime import LocalContainer
from spcs_emulator.spcs.runtime_api import ContainerLaunch
from spcs_emulator.spcs.runtime_kinds import ContainerDirs, RunPlan
from tests.emulator.images import publish
from tests.emulator.local_runtime import environ, idle_plan, require_nss_wrapper
from tests.emulator.snow_cli import run_snow
from tests.emulator.sql import rows, wait_status

WEB = "D.PUBLIC.WEB"
WEB_FQN = ("D", "PUBLIC", "WEB")
PORT = 28761  # the endpoint's port, on each instance's own address (unlikely to be taken on any)
WEB_SPEC = (
    '{"spec": {"containers": [{"name": "web", "image": "/d/public/r/web:1"}], '
    f'"endpoints": [{{"name": "http", "port": {PORT}, "protocol": "HTTP", "public": true}}]}}}}'
)
IDLE_SPEC = '{"spec": {"containers": [{"name": "idle", "image": "/d/public/r/idle:1"}]}}'

# A tiny HTTP server: answers every GET with the instance id it was started for.
SERVER = (
    "import http.server, sys\n"
    "ip, port, instance = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
    "class Handler(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = f'instance {instance}'.encode()\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    "server = http.server.ThreadingHTTPServer((ip, port), Handler)\n"
    "print(f'instance {instance} serving on {ip}:{port}', flush=True)\n"
    "server.serve_forever()\n"
)

RESOLVE_ALL = (
    "import json, socket, sys\n"
    "out = {}\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        found = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)\n"
    "        out[name] = sorted({info[4][0] for info in found})\n"
    "    except socket.gaierror:\n"
    "        out[name] = []\n"
    "print(json.dumps(out))\n"
)


def web_plan(launch: ContainerLaunch, dirs: ContainerDirs, _cache: Path) -> RunPlan:
    """The instance's server on its own address and the endpoint's port (ready once it listens there)."""
    port = launch.endpoints[0].port
    argv = [sys.executable, "-c", SERVER, launch.ip, str(port), str(launch.instance_id)]
    return RunPlan(argv, dirs.cwd, port=port, bind_ip=launch.ip)


@dataclass
class Stack:
    emu: Emulator
    conn: snowflake.connector.SnowflakeConnection
    cur: Any  # a cursor of ACCOUNTADMIN, the services' owner
    home: Path  # SNOWFLAKE_HOME with a connections.toml for snow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("instances") / "state"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(runtime_kinds.PLANNERS, "jupyter", web_plan)
        mp.setitem(runtime_kinds.PLANNERS, "milvus-lite", idle_plan)
        with Emulator(state_dir=state) as emu:  # the process runtime and the real IngressProxy
            conn = snowflake.connector.connect(**emu.connection_parameters())
            cur = conn.cursor()
            for sql in (
                # Public endpoints answer only on an account that has it (as on Snowflake).
                "CREATE SECURITY INTEGRATION SNOWSERVICES_INGRESS_OAUTH TYPE=oauth "
                "OAUTH_CLIENT=snowservices_ingress ENABLED=true",
                "CREATE DATABASE D",
                "CREATE IMAGE REPOSITORY D.PUBLIC.R",
                "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS",
                "USE SCHEMA D.PUBLIC",
            ):
                cur.execute(sql)
            url = rows(cur, "SHOW IMAGE REPOSITORIES IN SCHEMA D.PUBLIC")[0]["repository_url"]
            publish(emu, f"{url}/web:1", "jupyter")
            publish(emu, f"{url}/idle:1", "milvus-lite")
            cur.execute(
                f"CREATE SERVICE {WEB} IN COMPUTE POOL P FROM SPECIFICATION $${WEB_SPEC}$$ "
                "MIN_INSTANCES = 2 MAX_INSTANCES = 2"
            )
            # Another service of the same schema: its container resolves WEB's names.
            cur.execute(
                f"CREATE SERVICE D.PUBLIC.CLIENT IN COMPUTE POOL P FROM SPECIFICATION $${IDLE_SPEC}$$"
            )
            home = tmp_path_factory.mktemp("snowflake-home")
            entry = emu.connections_toml("emu") + 'database = "D"\nschema = "PUBLIC"\n'
            (home / "connections.toml").write_text(entry)
            (home / "connections.toml").chmod(0o600)  # snow refuses files others can read
            try:
                yield Stack(emu, conn, cur, home)
            finally:
                conn.close()


def instances(cur: Any, service: str = WEB) -> list[dict[str, Any]]:
    return sorted(rows(cur, f"SHOW SERVICE INSTANCES IN SERVICE {service}"), key=lambda r: r["instance_id"])


def ready_instances(cur: Any, count: int, service: str = WEB) -> list[dict[str, Any]]:
    """Wait until the service shows exactly ``count`` instances, all READY; their rows by id."""

    def probe() -> Probe[list[dict[str, Any]]]:
        found = instances(cur, service)
        done = len(found) == count and all(r["status"] == "READY" for r in found)
        return Probe(done, found, state=str([(r["instance_id"], r["status"]) for r in found]))

    found = wait_for(probe, what=f"{count} READY instances of {service}", timeout=20, interval=0.1)
    assert found is not None
    return found


def answer(ip: str) -> str:
    return requests.get(f"http://{ip}:{PORT}/", timeout=5).text


def ingress_host(cur: Any) -> str:
    def opened() -> Probe[str]:
        url = str(rows(cur, f"SHOW ENDPOINTS IN SERVICE {WEB}")[0]["ingress_url"])
        return Probe(url.startswith("127."), url, state=url)

    host = wait_for(opened, what="WEB's ingress URL", timeout=10, interval=0.05)
    assert host is not None
    return host


def through_ingress(s: Stack, count: int) -> list[str]:
    host, token = ingress_host(s.cur), token_of(s.conn)
    answers = []
    for _ in range(count):
        response = requests.get(
            f"http://{host}/", headers={"Authorization": f'Snowflake Token="{token}"'}, timeout=10
        )
        assert response.status_code == 200, response.text
        answers.append(response.text)
    return answers


def handle(emu: Emulator, fqn: tuple[str, ...], instance: int, container: str) -> LocalContainer:
    with emu.account.state.lock:
        found = next(i for i in emu.control.services[fqn].instances if i.id == instance)
        running = found.containers[container]
    assert isinstance(running, LocalContainer)
    return running


def client_environment(s: Stack) -> dict[str, str]:
    """The environment of CLIENT's own process as the kernel holds it (the runtime's DNS settings)."""
    wait_status(s.cur, "D.PUBLIC.CLIENT", "RUNNING", timeout=20)
    top = handle(s.emu, ("D", "PUBLIC", "CLIENT"), 0, "idle").pid
    assert top is not None

    def container_process() -> Probe[dict[str, str]]:
        envs = [environ(pid) for pid in (top, *descendants(top))]  # the top one may be its watchdog
        found = [env for env in envs if dns.MECHANISM_ENV in env]
        return Probe(bool(found), found[0] if found else None, state=f"{len(envs)} processes")

    env = wait_for(container_process, what="CLIENT's process", timeout=20, interval=0.05)
    assert env is not None
    return env


def resolve(env: dict[str, str], *names: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", RESOLVE_ALL, *names], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answers: dict[str, list[str]] = json.loads(done.stdout)
    return answers


def wait_resolves(env: dict[str, str], names: tuple[str, ...], wanted: list[str]) -> None:
    """nss_wrapper rereads the hosts file the runtime rewrites when the READY instances change."""

    def probe() -> Probe[None]:
        found = resolve(env, *names)
        return Probe(all(found[n] == wanted for n in names), state=str(found))

    wait_for(probe, what=f"{names} to resolve to {wanted}", timeout=15, interval=0.1)


# -- two instances, each its own server, both behind the ingress -----------------------------------


def test_two_instances_each_answer_on_their_own_address_and_the_ingress_reaches_both(stack: Stack) -> None:
    found = ready_instances(stack.cur, 2)
    assert [r["instance_id"] for r in found] == ["0", "1"]
    ips = [r["ip_address"] for r in found]
    assert len(set(ips)) == 2, ips
    assert [answer(ip) for ip in ips] == ["instance 0", "instance 1"]
    containers = rows(stack.cur, f"SHOW SERVICE CONTAINERS IN SERVICE {WEB}")
    assert sorted((c["instance_id"], c["container_name"], c["status"]) for c in containers) == [
        ("0", "web", "READY"),
        ("1", "web", "READY"),
    ]
    service = rows(stack.cur, "SHOW SERVICES LIKE 'WEB' IN SCHEMA D.PUBLIC")[0]
    assert (service["current_instances"], service["target_instances"]) == (2, 2)
    assert set(through_ingress(stack, 4)) == {"instance 0", "instance 1"}


# -- service DNS answers with every READY instance -------------------------------------------------


def test_the_service_dns_name_and_short_name_resolve_to_both_ready_instances(stack: Stack) -> None:
    require_nss_wrapper()
    ips = sorted(r["ip_address"] for r in ready_instances(stack.cur, 2))
    dns_name = rows(stack.cur, "SHOW SERVICES LIKE 'WEB' IN SCHEMA D.PUBLIC")[0]["dns_name"]
    env = client_environment(stack)
    assert env[dns.MECHANISM_ENV] == "nss_wrapper"
    wait_resolves(env, (dns_name, "web"), ips)


# -- scaling with ALTER SERVICE ... SET MIN_INSTANCES, per-instance logs ----------------------------


def test_scaling_in_stops_instance_1_and_scaling_out_brings_it_back_with_its_own_logs(stack: Stack) -> None:
    require_nss_wrapper()
    cur = stack.cur
    first, second = ready_instances(cur, 2)
    dns_name = rows(cur, "SHOW SERVICES LIKE 'WEB' IN SCHEMA D.PUBLIC")[0]["dns_name"]
    env = client_environment(stack)
    kept = handle(stack.emu, WEB_FQN, 0, "web").pid
    top = handle(stack.emu, WEB_FQN, 1, "web").pid
    assert kept is not None
    assert top is not None
    pids = [top, *descendants(top)]
    assert answer(second["ip_address"]) == "instance 1"

    cur.execute(f"ALTER SERVICE {WEB} SET MIN_INSTANCES = 1")
    [only] = ready_instances(cur, 1)
    assert (only["instance_id"], only["ip_address"]) == ("0", first["ip_address"])
    wait_for(
        lambda: Probe(not any(is_alive(p) for p in pids), state=str([p for p in pids if is_alive(p)])),
        what="instance 1's processes to end",
        timeout=15,
        interval=0.05,
    )
    with pytest.raises(requests.ConnectionError):
        answer(second["ip_address"])  # nothing listens on instance 1's address any more
    assert handle(stack.emu, WEB_FQN, 0, "web").pid == kept  # instance 0 runs on, never restarted
    assert is_alive(kept)
    wait_resolves(env, (dns_name, "web"), [first["ip_address"]])
    assert set(through_ingress(stack, 3)) == {"instance 0"}
    service = rows(cur, "SHOW SERVICES LIKE 'WEB' IN SCHEMA D.PUBLIC")[0]
    assert (service["min_instances"], service["max_instances"], service["target_instances"]) == (1, 2, 1)

    cur.execute(f"ALTER SERVICE {WEB} SET MIN_INSTANCES = 2")
    back = ready_instances(cur, 2)
    ips = [r["ip_address"] for r in back]
    assert [answer(ip) for ip in ips] == ["instance 0", "instance 1"]
    wait_resolves(env, (dns_name, "web"), sorted(ips))
    assert set(through_ingress(stack, 4)) == {"instance 0", "instance 1"}

    # Each instance's container writes its own log: instance 1's holds its output, not instance 0's.
    logs = {
        i: rows(cur, f"SELECT SYSTEM$GET_SERVICE_LOGS('{WEB}', '{i}', 'web') AS LOG")[0]["LOG"]
        for i in (0, 1)
    }
    assert f"instance 1 serving on {ips[1]}:{PORT}" in logs[1]
    assert "instance 0 serving" not in logs[1]
    assert f"instance 0 serving on {ips[0]}:{PORT}" in logs[0]
    assert "instance 1 serving" not in logs[0]


# -- the done-when: the real snow CLI --------------------------------------------------------


def test_snow_spcs_service_set_then_list_instances_shows_two(stack: Stack) -> None:
    def run(*args: str) -> Any:
        return json.loads(run_snow(stack.home, *args))

    stack.cur.execute(f"CREATE SERVICE D.PUBLIC.SOLO IN COMPUTE POOL P FROM SPECIFICATION $${IDLE_SPEC}$$")
    ready_instances(stack.cur, 1, "D.PUBLIC.SOLO")

    # MAX_INSTANCES alone: SPCS would autoscale on CPU load, which the emulator does not measure.
    run("spcs", "service", "set", "solo", "--max-instances", "2")
    service = rows(stack.cur, "SHOW SERVICES LIKE 'SOLO' IN SCHEMA D.PUBLIC")[0]
    assert (service["min_instances"], service["max_instances"], service["target_instances"]) == (1, 2, 1)
    assert [i["instance_id"] for i in run("spcs", "service", "list-instances", "solo")] == ["0"]

    run("spcs", "service", "set", "solo", "--min-instances", "2", "--max-instances", "2")
    ready_instances(stack.cur, 2, "D.PUBLIC.SOLO")  # the next tick starts instance 1
    listed = run("spcs", "service", "list-instances", "solo")
    assert sorted((i["instance_id"], i["status"]) for i in listed) == [("0", "READY"), ("1", "READY")]
    assert len({i["ip_address"] for i in listed}) == 2
    service = rows(stack.cur, "SHOW SERVICES LIKE 'SOLO' IN SCHEMA D.PUBLIC")[0]
    assert (service["min_instances"], service["max_instances"], service["current_instances"]) == (2, 2, 2)
