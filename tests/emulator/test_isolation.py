"""Emulated services are confined to their own loopback address, and runs at once do not touch each other.

- every listener of a container's processes is on the service's own address (Milvus runs in a network
  namespace of its own: test_milvus_netns; without one, its documented exceptions: see runtime_kinds);
- each emulator instance hands out addresses from a block of its own, so two emulators running the same
  spec (same fixed ports) both go RUNNING, each on its own process;
- readiness counts only listeners of the container's own processes, and a port held by somebody else
  fails the container at once, naming the address and port.

These tests start real containers: run them under the shared lock (flock /tmp/heavy.lock).
"""

from __future__ import annotations

import http.server
import ipaddress
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.addresses import AddressBlock
from spcs_emulator.spcs.listeners import Listener, listeners_of
from spcs_emulator.spcs.runtime import LocalRuntime
from tests.emulator.local_runtime import free_port, make_launch, processes_with, wait_container
from tests.emulator.services import (
    JUPYTER_SPEC,
    LITE_SPEC,
    container_of,
    create_service,
    main_process,
    notebook_over_ingress,
    tree,
)
from tests.emulator.sql import rows, wait_status


def command_line(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:  # gone meanwhile
        return ""


def service_ip(cur, name: str) -> str:
    return rows(cur, f"SHOW SERVICE INSTANCES IN SERVICE DB.PUBLIC.{name}")[0]["ip_address"]


# -- address blocks (pure) -------------------------------------------------------------------------------


def test_an_address_block_is_never_claimed_twice_and_skips_blocks_with_listeners() -> None:
    picks = iter([(200, 7), (200, 7), (200, 8), (200, 9)])
    first = AddressBlock.claim(choose=lambda: next(picks), listeners=set)
    try:
        busy = {Listener("127.200.8.30", 80)}  # somebody listens in 127.200.8.0/24
        second = AddressBlock.claim(choose=lambda: next(picks), listeners=lambda: busy)
        try:
            assert str(first.network) == "127.200.7.0/24"
            assert str(second.network) == "127.200.9.0/24"
            assert second.next_free({"127.200.9.1", "127.200.9.2"}) == "127.200.9.3"
        finally:
            second.release()
    finally:
        first.release()
    again = AddressBlock.claim(choose=lambda: (200, 7), listeners=set)  # released: free again
    again.release()


# -- listening addresses ----------------------------------------------------------------------------------


def test_jupyter_and_its_kernels_listen_only_on_the_service_address(
    emulators: list[Emulator], tmp_path: Path
) -> None:
    emu = Emulator(state_dir=tmp_path / "state").start()
    emulators.append(emu)
    conn = create_service(emu, "NOTEBOOK", JUPYTER_SPEC, "jupyter")
    cur = conn.cursor()
    wait_status(cur, "DB.PUBLIC.NOTEBOOK", "RUNNING", timeout=120)
    ip = service_ip(cur, "NOTEBOOK")

    jupyter = notebook_over_ingress(conn, "NOTEBOOK")
    handle = container_of(emu, "NOTEBOOK")
    cell = threading.Thread(target=jupyter.run, args=("import time; time.sleep(8)",), daemon=True)
    cell.start()  # a kernel is running while the listeners are read

    def kernel_started() -> Probe[list[int]]:
        kernels = [p for p in tree(handle) if "ipykernel_launcher" in command_line(p)]
        assert handle.dirs.sockets is not None
        channels = sorted(handle.dirs.sockets.glob("k-*"))  # the kernel's Unix sockets: it is up
        return Probe(bool(kernels and channels), kernels, state=(kernels, channels))

    kernels = wait_for(kernel_started, what="a kernel", timeout=60, interval=0.2)
    server = listeners_of([main_process(handle)])
    found = listeners_of(tree(handle))
    cell.join(30)
    conn.close()
    assert server == {Listener(ip, 8888)}
    assert not any(listener.is_wildcard for listener in found), sorted(map(str, found))
    # Kernels talk to the server over Unix sockets; the one TCP listener a kernel keeps is ipykernel's
    # IOPub pipe for forked subprocesses, hard-coded to 127.0.0.1 (documented in runtime_kinds).
    elsewhere = found - {Listener(ip, 8888)}
    assert {listener.ip for listener in elsewhere} <= {"127.0.0.1"}, sorted(map(str, found))
    assert len(elsewhere) <= len(kernels), sorted(map(str, found))


@pytest.mark.slow
def test_without_a_network_namespace_real_milvus_keeps_etcd_on_its_address_and_says_so(
    runtime: LocalRuntime,
    tmp_path: Path,
    marker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback where the host permits no network namespace (see test_milvus_netns for the rule)."""
    from spcs_emulator.spcs import runtime_kinds

    refused = "unshare: Operation not permitted"
    monkeypatch.setattr(runtime_kinds, "network_isolation_problem", lambda: refused)
    block = AddressBlock.claim()
    try:
        # Not 19530: other tests' Milvus (parallel workers) serve it on their own addresses.
        ip, port = block.next_free(set()), free_port()
        launch = make_launch(tmp_path, marker, runtime="milvus", service="milvus", ip=ip, port=port, hosts={})
        handle = runtime.launch(launch)
        wait_container(handle, "READY", timeout=180)
        found = listeners_of(tree(handle))
        log = handle.logs()
        handle.stop()
    finally:
        block.release()
    assert f"{runtime_kinds.NO_NAMESPACE_NOTICE}: {refused}" in log
    assert not any(listener.ip in ("127.0.0.1", "0.0.0.0") for listener in found), sorted(map(str, found))
    etcd = yaml.safe_load(
        (tmp_path / "runtime").glob("*/data/configs/embed-etcd.yaml").__next__().read_text()
    )
    client_port = int(etcd["listen-client-urls"].rsplit(":", 1)[1])
    assert Listener(ip, client_port) in found, sorted(map(str, found))
    # Milvus 2.3.5 cannot bind its gRPC/HTTP servers to an address (documented): those are on [::];
    # everything that can be bound is on the service's address, nothing on 127.0.0.1 or 0.0.0.0.
    assert {listener.ip for listener in found} <= {ip, "::"}, sorted(map(str, found))
    assert Listener("::", port) in found


# -- concurrent emulators ---------------------------------------------------------------------------------


def test_two_emulators_run_the_same_spec_at_once_each_on_its_own_address(
    emulators: list[Emulator], tmp_path: Path
) -> None:
    for n in (1, 2):
        emulators.append(Emulator(state_dir=tmp_path / f"state{n}").start())
    conns = [create_service(emu, "LITE", LITE_SPEC, "milvus-lite") for emu in emulators]
    curs = [conn.cursor() for conn in conns]
    for cur in curs:
        wait_status(cur, "DB.PUBLIC.LITE", "RUNNING", timeout=120)
    ips = [service_ip(cur, "LITE") for cur in curs]
    assert ips[0] != ips[1]
    assert ipaddress.ip_address(ips[0]) not in ipaddress.ip_network(f"{ips[1]}/24", strict=False)
    for emu, ip in zip(emulators, ips, strict=True):
        own = listeners_of(tree(container_of(emu, "LITE")))
        assert Listener(ip, 19530) in own, "each service is served by its own process"
    for conn in conns:
        conn.close()


# -- foreign listeners ------------------------------------------------------------------------------------


class _AlwaysOk(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def test_a_port_held_by_another_process_fails_the_container_at_once_and_never_makes_it_ready(
    runtime: LocalRuntime,
    tmp_path: Path,
    marker: str,
) -> None:
    block = AddressBlock.claim()
    ip = block.next_free(set())
    stranger = http.server.ThreadingHTTPServer((ip, 0), _AlwaysOk)  # answers 200 to any probe
    port = stranger.server_address[1]
    serving = threading.Thread(target=stranger.serve_forever, daemon=True)
    serving.start()
    try:
        launch = make_launch(
            tmp_path,
            marker,
            runtime="jupyter",
            service="notebook",
            ip=ip,
            port=port,
            protocol="HTTP",
            hosts={},
            image="/db/public/repo/jupyter:v1",
            readiness=(port, "/api"),
        )
        started = time.monotonic()
        handle = runtime.launch(launch)
        seen: list[tuple[str, str]] = []

        def failed() -> Probe[None]:
            seen.append(handle.status())
            return Probe(handle.status()[0] == "FAILED", state=handle.status())

        wait_for(failed, what="the container FAILED", timeout=10, interval=0.02)
        assert time.monotonic() - started < 5, "a port clash is not waited out"
        assert f"{ip}:{port}" in handle.status()[1]
        assert "already in use" in handle.status()[1]

        def through_restarts() -> Probe[None]:
            seen.append(handle.status())
            return Probe(handle.restart_count >= 2, state=(handle.status(), handle.restart_count))

        wait_for(through_restarts, what="two restarts", timeout=30, interval=0.02)
        assert all(status != "READY" for status, _ in seen), (
            "the stranger's listener was taken for the container"
        )
        handle.stop()
    finally:
        stranger.shutdown()
        stranger.server_close()
        block.release()
    assert processes_with(marker) == []
