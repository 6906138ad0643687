from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from pymilvus import MilvusClient

from milvus_spcs.backends import BackendUnavailable, make_backend
from milvus_spcs.backends import container as container_module
from milvus_spcs.backends.base import wait_until_serving
from milvus_spcs.backends.server import milvus_default_ports
from milvus_spcs.bench.local_targets import serving_pid
from milvus_spcs.errors import PreflightError, WaitTimeout
from milvus_spcs.waits import Probe, wait_for


def test_unknown_backend_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match="choose one of: lite, server, container, uri"):
        make_backend("docker", data_dir=tmp_path)


@pytest.mark.parametrize("uri", [None, "", "localhost:19530", "ftp://x"])
def test_uri_backend_refuses_a_missing_or_malformed_uri(tmp_path: Path, uri: str | None) -> None:
    with pytest.raises(PreflightError, match="missing or malformed"):
        make_backend("uri", data_dir=tmp_path, uri=uri)


def test_container_backend_without_docker_is_unavailable_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(container_module, "docker_engine_problem", lambda: "no Docker engine answers (x)")
    backend = make_backend("container", data_dir=tmp_path)
    with pytest.raises(BackendUnavailable, match="needs a Docker engine: no Docker engine answers"):
        backend.start()


def test_container_backend_pins_a_patched_release() -> None:
    tag = container_module.DEFAULT_IMAGE.rsplit(":", 1)[1]
    major, minor, patch = (int(p) for p in tag.lstrip("v").split("."))
    assert (major, minor, patch) >= (2, 6, 10), "CVE-2026-26190 is fixed in 2.6.10"


def test_readiness_wait_reports_the_unreachable_uri() -> None:
    with pytest.raises(WaitTimeout, match=r"Milvus at http://127.0.0.1:9 to answer list_collections"):
        wait_until_serving("http://127.0.0.1:9", timeout=1.0)


BACKEND_UP_TEST = """
import threading

def test_backend_up(milvus_backend):
    print("BACKEND-UP", flush=True)
    threading.Event().wait(300)
"""


# Two milvus-servers cannot run at once (the embedded etcd always takes 127.0.0.1:2380): one worker.
ONE_MILVUS_SERVER = pytest.mark.xdist_group("milvus-server")


@ONE_MILVUS_SERVER
def test_sigterm_to_a_server_backed_run_stops_its_milvus_server(tmp_path: Path) -> None:
    # What a CI cancel sends. Without the fixture's SIGTERM handling, pytest died at once and the
    # milvus-server it started ran on (seen when .ci/run killed a background run of the local suites).
    (tmp_path / "test_inner.py").write_text(BACKEND_UP_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    output = tmp_path / "output.txt"
    with output.open("w") as out:
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-s",
                "-p",
                "no:cacheprovider",
                "--milvus-backend",
                "server",
            ],
            cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith("MILVUS_SPCS_")},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    milvus: list[psutil.Process] = []
    try:
        wait_for(
            lambda: Probe("BACKEND-UP" in output.read_text() or run.poll() is not None),
            what="the inner run's milvus-server to answer",
            timeout=180,
        )
        milvus = [p for p in psutil.Process(run.pid).children(recursive=True) if p.name() == "milvus"]
        assert milvus, f"no milvus-server under the inner run:\n{output.read_text()[-2000:]}"
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
        _, alive = psutil.wait_procs(milvus, timeout=10)
        assert not alive, f"milvus-server outlived the SIGTERMed run: {alive}\n{output.read_text()[-2000:]}"
    finally:
        run.kill()
        for process in milvus:
            if process.is_running():
                process.kill()


@ONE_MILVUS_SERVER
def test_a_server_backend_listens_on_none_of_milvus_default_ports(tmp_path: Path) -> None:
    # The binary listens on every address. On a default port it would take that port from every
    # loopback address, and an emulator's Milvus (on the defaults of its service's own address) could
    # not start beside it, nor it beside one: the first CI run that overlapped the two failed so. This
    # looks at the binary's own listeners, so that other tests' Milvus processes cannot disturb it.
    defaults = set(milvus_default_ports().values())
    assert {19530, 9091} <= defaults
    backend = make_backend("server", data_dir=tmp_path)
    try:
        backend.start()
        client = MilvusClient(uri=backend.uri)
        try:
            assert client.list_collections() == []
        finally:
            client.close()
        pid = serving_pid(backend)
        assert pid is not None
        # Only what it holds on every address clashes (its embedded etcd keeps 2379 and 2380 on
        # 127.0.0.1: no option of the package moves them, and another address is not affected).
        everywhere = {
            c.laddr.port
            for p in (psutil.Process(pid), *psutil.Process(pid).children(recursive=True))
            for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.ip in ("0.0.0.0", "::")
        }
        assert everywhere, "milvus-server listens on no wildcard address (the premise changed)"
        taken = sorted(everywhere & defaults)
        assert not taken, f"milvus-server holds Milvus's default ports {taken} on every address"
    finally:
        backend.stop()
