"""The real Milvus runs in a network namespace of its own: reachable only on its service's address.

Milvus 2.3.5 listens on ``[::]`` for every server it runs (gRPC 19530, metrics/health 9091 with
CVE-2026-26190, the coordinators) and nothing configures it. The emulator runs it in a private network
namespace behind a forwarder (``spcs/netns.py``, ``spcs/watchdog.py``), so:

- in this host's namespace, the only listeners of the container (its watchdog and everything below it)
  are ``<service ip>:19530`` (its endpoint) and ``<service ip>:9091`` (the readiness probe's port,
  probed by the runtime itself); 9091 is reachable on no other address of this host, etcd's 2379 and
  the coordinators' ports on none at all;
- two emulators run the same spec (port 19530) at once, each on its own Milvus;
- a SIGKILLed emulator still takes Milvus (and its namespace) with it.

These tests start the real Milvus binary: slow, and they need the machine's ports 19530/9091 free of
other Milvus processes listening on every address.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.addresses import AddressBlock
from spcs_emulator.spcs.listeners import Listener, bind_forwarded, listeners_inside
from spcs_emulator.spcs.processes import Lifeline, descendants, is_alive
from spcs_emulator.spcs.runtime import serving_listeners
from spcs_emulator.spcs.runtime_api import ContainerLaunch
from spcs_emulator.spcs.runtime_kinds import RunPlan, paths_in_volumes, write_milvus_config
from tests.emulator.cli_emulator import CliEmulator, kill_all, start_cli
from tests.emulator.local_runtime import make_launch
from tests.emulator.services import container_of, create_service, tree
from tests.emulator.sql import rows, wait_status

MILVUS_SPEC = """
spec:
  containers:
  - name: milvus
    image: /db/public/repo/milvus:v1
    readinessProbe:
      port: 9091
      path: /healthz
  endpoints:
  - name: grpc
    port: 19530
    protocol: TCP
"""
START_TIMEOUT = 400  # two real Milvus starting at once on a small, busy machine


# An echo server that starts listening on 127.0.0.1:<port> once the file <go> exists.
LATE_ECHO = """
import os, socket, sys, time
port, go = int(sys.argv[1]), sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.02)
server = socket.create_server(("127.0.0.1", port))
open(go + ".listening", "w").close()
while True:
    conn, _ = server.accept()
    with conn:
        conn.sendall(conn.recv(100).upper())
"""


def exchange(address: str, port: int) -> bytes | None:
    """Send ``ping`` and read the answer; None when the connection fails or is closed unanswered."""
    try:
        with socket.create_connection((address, port), timeout=5) as sock:
            sock.sendall(b"ping")
            return sock.recv(100) or None
    except OSError:
        return None


def test_the_forwarder_is_the_only_way_in_and_never_answers_for_an_absent_server(tmp_path: Path) -> None:
    block = AddressBlock.claim()
    lifeline = Lifeline()
    go = tmp_path / "go"
    try:
        ip = block.next_free(set())
        with socket.socket() as spare:  # a port nobody uses, on any address
            spare.bind(("0.0.0.0", 0))
            port = spare.getsockname()[1]
        forwards = bind_forwarded(ip, [port])
        proc = lifeline.popen(
            [sys.executable, "-c", LATE_ECHO, str(port), str(go)],
            cwd=tmp_path,
            env={},
            forwards=forwards,
        )
        for sock, _ in forwards:
            sock.close()
        plan = RunPlan(["x"], tmp_path, port=port, forwarded_ports=(port,))
        own = {Listener(ip, port)}  # what the runtime sees in the host's namespace: the forwarder

        def main_started() -> Probe[int]:
            children = psutil.Process(proc.pid).children()
            return Probe(bool(children), children[0].pid if children else 0)

        server = wait_for(main_started, what="the container's process", timeout=10, interval=0.02)
        # Nothing listens inside yet: the forwarder resets the connection, and the port does not count.
        assert exchange(ip, port) is None
        assert serving_listeners(plan, own, [proc.pid, server]) == set()
        go.touch()
        wait_for(
            lambda: Probe((tmp_path / "go.listening").exists()),
            what="the server inside listening",
            timeout=10,
            interval=0.02,
        )
        assert exchange(ip, port) == b"PING"  # through the forwarder
        assert serving_listeners(plan, own, [proc.pid, server]) == own
        assert Listener("127.0.0.1", port) in listeners_inside([proc.pid, server])
        # The server's 127.0.0.1 is not the host's: nothing answers there, nor on any other address.
        assert exchange("127.0.0.1", port) is None
        assert host_listeners({server}) == set(), "the container holds no socket of the host's namespace"
        assert host_listeners({proc.pid}) == {Listener(ip, port)}
    finally:
        lifeline.close()
        block.release()
    proc.wait(timeout=15)  # the lifeline ends the watchdog, its tree and the forwarder with it
    assert exchange(ip, port) is None


def test_a_forwarded_port_held_by_another_process_fails_at_once_naming_it() -> None:
    block = AddressBlock.claim()
    try:
        ip = block.next_free(set())
        with socket.create_server((ip, 0)) as stranger:
            port = stranger.getsockname()[1]
            with pytest.raises(RuntimeError, match=rf"address {ip}:{port} is already in use"):
                bind_forwarded(ip, [port])
    finally:
        block.release()


def test_in_its_namespace_milvus_keeps_its_default_addresses_and_ports_that_do_not_collide(
    tmp_path: Path,
) -> None:
    import yaml

    write_milvus_config(tmp_path, 19531, 9091, in_namespace=True)  # 19531 is queryCoord's default
    config = yaml.safe_load((tmp_path / "configs" / "milvus.yaml").read_text())
    assert config["proxy"]["port"] == 19531
    assert config["queryCoord"]["port"] not in (19531, 9091)
    assert config["etcd"]["endpoints"] == "localhost:2379"  # the defaults: 127.0.0.1 inside
    assert "config" not in config["etcd"]  # no embed-etcd.yaml binding etcd to the host's address
    assert all(not config[c].get("ip") for c in ("proxy", "rootCoord", "queryNode", "dataNode"))


def milvus_launch_with_env(tmp_path: Path, env: dict[str, str]) -> ContainerLaunch:
    """A Milvus container's launch with a volume at /var/lib/milvus and ``env`` from its spec."""
    volume = tmp_path / "vol"
    return make_launch(
        tmp_path,
        "m",
        runtime="milvus",
        service="milvus",
        ip="127.0.0.1",
        port=19530,
        hosts={},
        volume=volume,
        env=env,
    )


def test_env_paths_in_a_volume_are_the_volume_on_this_host(tmp_path: Path) -> None:
    """Two runs at once must not share the image's ETCD_DATA_DIR=/var/lib/milvus/etcd on the host."""
    env = {"ETCD_DATA_DIR": "/var/lib/milvus/etcd", "OTHER": "/var/lib/milvusX", "ROOT": "/var/lib/milvus"}
    assert paths_in_volumes(milvus_launch_with_env(tmp_path, env)) == {
        "ETCD_DATA_DIR": str(tmp_path / "vol" / "etcd"),
        "ROOT": str(tmp_path / "vol"),
    }


def test_env_paths_that_climb_out_of_a_volume_stay_as_written(tmp_path: Path) -> None:
    """The attack: ``/var/lib/milvus/../../x`` must not become ``<volume>/../../x``, a host path in the
    emulator's own state directory."""
    env = {"ESCAPE": "/var/lib/milvus/../../secrets", "DOT": "/var/lib/milvus/./etcd"}
    assert paths_in_volumes(milvus_launch_with_env(tmp_path, env)) == {}


def start_milvus(emulators: list[Emulator], state_dir: Path) -> tuple[Emulator, str]:
    """An emulator with DB.PUBLIC.MILVUS (MILVUS_SPEC) created; returns it and the service's address."""
    emu = Emulator(state_dir=state_dir).start()
    emulators.append(emu)
    conn = create_service(emu, "MILVUS", MILVUS_SPEC, "milvus")
    cur = conn.cursor()

    def has_address() -> Probe[str]:
        found = rows(cur, "SHOW SERVICE INSTANCES IN SERVICE DB.PUBLIC.MILVUS")
        ip = found[0]["ip_address"] if found else None
        return Probe(bool(ip), ip, state=found)

    ip = wait_for(has_address, what="the Milvus instance's address", timeout=60, interval=0.2)
    conn.close()
    assert ip is not None
    return emu, ip


def wait_running(emu: Emulator) -> None:
    import snowflake.connector

    with snowflake.connector.connect(**emu.connection_parameters()) as conn:
        wait_status(conn.cursor(), "DB.PUBLIC.MILVUS", "RUNNING", timeout=START_TIMEOUT)


def host_listeners(pids: set[int]) -> set[Listener]:
    """Listening sockets of ``pids`` in this (the test's, the host's) network namespace: psutil maps the
    socket inodes of /proc/self/net/tcp and tcp6 to the processes' file descriptors."""
    return {
        Listener(str(ipaddress.ip_address(c.laddr.ip)), c.laddr.port)
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    }


def host_addresses(ip: str) -> list[str]:
    """Every address of this host's interfaces (link-local IPv6 aside: it needs a scope), 127.0.0.1,
    the service's own address and a neighbour of it in its /24."""
    neighbour = ipaddress.ip_address(ip) + (1 if int(ip.rsplit(".", 1)[1]) < 254 else -1)
    found = {"127.0.0.1", ip, str(neighbour)}
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6) and not address.address.startswith("fe80"):
                found.add(address.address.split("%")[0])
    return sorted(found)


def reaches(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        try:
            sock.connect((address, port))
        except OSError:
            return False
    return True


def foreign_listener_on(address: str, port: int, container: set[int]) -> bool:
    """Somebody else (not the container) listens where ``address:port`` lands."""
    for c in psutil.net_connections(kind="tcp"):
        if c.status != psutil.CONN_LISTEN or c.laddr.port != port:
            continue
        if Listener(str(ipaddress.ip_address(c.laddr.ip)), port).covers(address) and c.pid not in container:
            return True
    return False


def container_pids(emu: Emulator) -> set[int]:
    handle = container_of(emu, "MILVUS")
    assert handle.pid is not None
    return {handle.pid, *tree(handle)}  # its watchdog (which forwards) and everything below it


@pytest.mark.slow
def test_milvus_listens_in_its_own_namespace_and_is_reachable_only_on_its_address(
    emulators: list[Emulator], tmp_path: Path
) -> None:
    emu, ip = start_milvus(emulators, tmp_path / "state")
    wait_running(emu)
    handle = container_of(emu, "MILVUS")
    pids = container_pids(emu)

    # In the host's namespace: exactly the endpoint and the probe's port, on the service's address.
    assert host_listeners(pids) == {Listener(ip, 19530), Listener(ip, 9091)}, sorted(
        map(str, host_listeners(pids))
    )
    # Milvus itself runs with its defaults inside its namespace (etcd on 127.0.0.1:2379 there).
    inside = listeners_inside(tree(handle))
    assert {19530, 9091, 2379} <= {listener.port for listener in inside}, sorted(map(str, inside))
    assert os.readlink(f"/proc/{tree(handle)[0]}/ns/net") != os.readlink("/proc/self/ns/net")

    # What is allowed: ip:9091 (the runtime's readiness probe answers through it) and ip:19530.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{ip}:9091/healthz", timeout=10) as response:
        assert response.status == 200
    assert reaches(ip, 19530)
    # Nothing else: 9091 on no other address, 2379 and 53100 (rootCoord) on none.
    for address in host_addresses(ip):
        for port in (9091, 2379, 53100):
            if (address, port) == (ip, 9091):
                continue
            if foreign_listener_on(address, port, pids):
                continue  # another program of this host answers there, not this container
            assert not reaches(address, port), f"{address}:{port} reaches the container"


@pytest.mark.slow
def test_two_emulators_run_real_milvus_with_the_same_ports_at_once(
    emulators: list[Emulator], tmp_path: Path
) -> None:
    from pymilvus import MilvusClient

    started = [start_milvus(emulators, tmp_path / f"state{n}") for n in (1, 2)]
    for emu, _ in started:
        wait_running(emu)
    (emu_a, ip_a), (emu_b, ip_b) = started
    assert ip_a != ip_b
    assert not container_pids(emu_a) & container_pids(emu_b)
    a = MilvusClient(uri=f"http://{ip_a}:19530", timeout=30)
    b = MilvusClient(uri=f"http://{ip_b}:19530", timeout=30)
    try:
        a.create_collection("only_in_a", dimension=4)
        assert "only_in_a" in a.list_collections()
        assert "only_in_a" not in b.list_collections()
    finally:
        a.close()
        b.close()


def create_cli_milvus(cli: CliEmulator) -> str:
    """DB.PUBLIC.MILVUS (MILVUS_SPEC) RUNNING in the CLI emulator; returns its address."""
    with cli.connect() as conn:  # closed while the emulator still answers (the caller may kill it)
        cur = conn.cursor()
        for sql in (
            "CREATE DATABASE DB",
            "CREATE IMAGE REPOSITORY DB.PUBLIC.REPO",
            "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS",
        ):
            cur.execute(sql)
        url = rows(cur, "SHOW IMAGE REPOSITORIES IN SCHEMA DB.PUBLIC")[0]["repository_url"]
        cli.publish(f"{url}/milvus:v1", "milvus")
        cur.execute(f"CREATE SERVICE DB.PUBLIC.MILVUS IN COMPUTE POOL P FROM SPECIFICATION $${MILVUS_SPEC}$$")
        wait_status(cur, "DB.PUBLIC.MILVUS", "RUNNING", timeout=START_TIMEOUT)
        return str(rows(cur, "SHOW SERVICE INSTANCES IN SERVICE DB.PUBLIC.MILVUS")[0]["ip_address"])


@pytest.mark.slow
def test_a_sigkilled_emulator_takes_milvus_and_its_forwarder_with_it(
    tmp_path: Path,
    cli_emulators: list[CliEmulator],
) -> None:
    cli = start_cli(tmp_path)
    cli_emulators.append(cli)
    ip = create_cli_milvus(cli)
    everything = [cli.proc.pid, *descendants(cli.proc.pid)]
    assert reaches(ip, 19530)

    cli.proc.send_signal(signal.SIGKILL)
    cli.proc.wait(timeout=10)

    def all_gone() -> Probe[None]:
        alive = [p for p in everything if is_alive(p)]
        listening = [port for port in (19530, 9091) if reaches(ip, port)]
        return Probe(not alive and not listening, None, state=f"alive={alive} listening={listening}")

    try:
        wait_for(all_gone, what="Milvus and its forwarder gone", timeout=15, interval=0.1)
    finally:
        kill_all(everything)
