"""The local SPCS runtime with real processes: DNS for unmodified clients, readiness, restarts, logs, volumes.

Every test marks its containers with a unique env var; after the runtime shuts down, no process carrying
it may be left (that includes Jupyter kernels, which live in sessions of their own).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from milvus_spcs.jupyter_client import JupyterOverIngress
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.spcs import dns
from spcs_emulator.spcs.container_logs import LogFiles, timestamp
from spcs_emulator.spcs.ingress import IngressProxy
from spcs_emulator.spcs.runtime import LocalRuntime, readiness, secret_env_name
from spcs_emulator.spcs.runtime_api import IngressRoute
from spcs_emulator.spcs.runtime_kinds import RunPlan
from tests.emulator.local_runtime import (
    MARKER_ENV,
    free_port,
    loopback_ip,
    make_launch,
    milvus_hosts,
    processes_with,
    real_milvus_on_a_volume,
    require_nss_wrapper,
    run_client,
    wait_container,
)

TIMESTAMPED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z ")


def port_is_free(ip: str, port: int) -> bool:
    """Whether a server could listen there now (servers set SO_REUSEADDR, so TIME_WAIT does not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


# -- DNS ------------------------------------------------------------------------------------------


def test_hosts_file_groups_names_per_address() -> None:
    text = dns.hosts_file_text({"b.x.svc.spcs.internal": "127.0.0.8", "B": "127.0.0.8", "a": "127.0.0.7"})
    assert "127.0.0.1 localhost" in text
    assert "127.0.0.7 a\n" in text
    assert "127.0.0.8 b b.x.svc.spcs.internal\n" in text


def test_made_up_names_resolve_in_a_subprocess(tmp_path: Path) -> None:
    require_nss_wrapper()
    hosts = {"milvus.a1b2.svc.spcs.internal": "127.0.0.5", "milvus": "127.0.0.5"}
    code = (
        "import json, socket\n"
        "name = 'milvus.a1b2.svc.spcs.internal'\n"
        "full = socket.getaddrinfo(name, 19530, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]\n"
        "short, local = socket.gethostbyname('milvus'), socket.gethostbyname('localhost')\n"
        "print(json.dumps([full, short, local]))\n"
    )
    assert json.loads(run_client(code, hosts, tmp_path)) == ["127.0.0.5", "127.0.0.5", "127.0.0.1"]


def test_a_service_with_several_ready_instances_resolves_to_each_by_both_names(tmp_path: Path) -> None:
    require_nss_wrapper()
    hosts = {
        "web.a1b2.svc.spcs.internal": ("127.0.0.5", "127.0.0.6"),
        "other.a1b2.svc.spcs.internal": "127.0.0.9",
    }
    env = {**os.environ, **dns.dns_environment(hosts, tmp_path, search_domain="a1b2.svc.spcs.internal")}
    code = (
        "import json, socket\n"
        "def each(name): return sorted({a[4][0] for a in socket.getaddrinfo(name, 80, socket.AF_INET)})\n"
        "print(json.dumps([each('web.a1b2.svc.spcs.internal'), each('web'), each('other')]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == [["127.0.0.5", "127.0.0.6"], ["127.0.0.5", "127.0.0.6"], ["127.0.0.9"]]


def test_a_rewritten_hosts_file_is_seen_by_running_processes(tmp_path: Path) -> None:
    require_nss_wrapper()
    env = {**os.environ, **dns.dns_environment({"a.x.svc.spcs.internal": "127.0.0.7"}, tmp_path)}
    code = (
        "import socket, sys\n"
        "print(socket.gethostbyname('a.x.svc.spcs.internal'), flush=True)\n"
        "sys.stdin.readline()\n"
        "print(socket.gethostbyname('b.x.svc.spcs.internal'), flush=True)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdin is not None
        assert proc.stdout.readline().strip() == "127.0.0.7"
        dns.dns_environment(
            {"a.x.svc.spcs.internal": "127.0.0.7", "b.x.svc.spcs.internal": "127.0.0.8"}, tmp_path
        )
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "127.0.0.8"
        assert proc.wait(timeout=30) == 0


def test_without_the_library_the_mapping_is_only_exported(tmp_path: Path) -> None:
    env = dns.dns_environment({"milvus": "127.0.0.5"}, tmp_path, use_nss_wrapper=False)
    assert env[dns.MECHANISM_ENV] == "none"
    assert "LD_PRELOAD" not in env
    assert json.loads(env[dns.HOSTS_JSON_ENV]) == {"milvus": "127.0.0.5"}
    assert "127.0.0.5 milvus" in Path(env[dns.HOSTS_FILE_ENV]).read_text()


# -- logs and probes (no processes) -----------------------------------------------------------------


def test_logs_keep_the_previous_run_and_tail_lines(tmp_path: Path) -> None:
    files = LogFiles(tmp_path, "instance-0")
    files.reset()
    files.current.write_text("".join(f"{timestamp()} first run {i}\n" for i in range(5)))
    files.rotate()
    files.current.write_text("".join(f"{timestamp()} second run {i}\n" for i in range(300)))
    assert files.read(lines=2) == "second run 298\nsecond run 299\n"
    assert files.read(previous=True).splitlines()[0] == "first run 0"
    stamped = files.read(lines=1, timestamps=True)
    assert TIMESTAMPED.match(stamped), stamped
    assert files.read(lines=0) == ""
    assert len(files.read().splitlines()) == 300
    files.reset()
    assert files.read(previous=True) == ""
    assert files.read() == ""


def test_timestamp_has_nanoseconds_in_utc() -> None:
    assert timestamp(1_729_559_549_873_896_187) == "2024-10-22T01:12:29.873896187Z"


def test_http_readiness_probe_needs_a_2xx(tmp_path: Path) -> None:
    codes = {"/healthz": 200, "/starting": 503}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(codes.get(self.path, 404))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        assert readiness(RunPlan([], tmp_path, http_probe=(port, "/healthz")), "127.0.0.1") == (
            True,
            "Running",
        )
        ready, message = readiness(RunPlan([], tmp_path, http_probe=(port, "/starting")), "127.0.0.1")
        assert not ready
        assert message == f"Readiness probe is failing at path: /starting, port: {port}"
    finally:
        server.shutdown()
        server.server_close()
    ready, message = readiness(RunPlan([], tmp_path, port=port), "127.0.0.1")
    assert not ready
    assert "does not accept connections" in message


# -- launching --------------------------------------------------------------------------------------


def test_unknown_runtime_is_refused(runtime: LocalRuntime, tmp_path: Path, marker: str) -> None:
    launch = make_launch(
        tmp_path, marker, runtime="postgres", service="db", ip="127.0.0.9", port=5432, hosts={}
    )
    with pytest.raises(ValueError, match=r"'postgres'.*jupyter, milvus, milvus-lite"):
        runtime.launch(launch)


def test_secret_files_and_image_files_are_in_place(
    runtime: LocalRuntime, tmp_path: Path, marker: str
) -> None:
    launch = make_launch(
        tmp_path,
        marker,
        runtime="jupyter",
        service="notebook",
        ip=loopback_ip(),
        port=free_port(),
        protocol="HTTP",
        hosts={},
        image="/db/public/repo/jupyter:v1",
        env={MARKER_ENV: marker, "MILVUS_TOKEN": "s3cret"},
        secret_files={"/etc/milvus/creds": {"password": "hunter2"}},
    )
    handle = runtime.launch(launch)
    secret = handle.dirs.fs / "etc/milvus/creds/password"
    assert secret.read_text() == "hunter2"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (handle.dirs.cwd / "Notebook.ipynb").exists()
    assert secret_env_name("/etc/milvus/creds") == "SPCS_SECRET_DIR_ETC_MILVUS_CREDS"
    handle.stop()
    assert handle.status() == ("DONE", "Container stopped")
    assert "s3cret" not in handle.logs()
    assert "hunter2" not in handle.logs()


def test_a_run_that_exits_is_failed_and_restarted(runtime: LocalRuntime, tmp_path: Path, marker: str) -> None:
    ip, port = loopback_ip(), free_port()
    with socket.socket() as blocker:  # the port is taken: Milvus Lite cannot bind and exits
        blocker.bind((ip, port))
        launch = make_launch(
            tmp_path, marker, runtime="milvus-lite", service="broken", ip=ip, port=port, hosts={}
        )
        handle = runtime.launch(launch)
        wait_for(
            lambda: Probe(handle.restart_count >= 1, None, str(handle.status())),
            what="a restart after the failed run",
            timeout=60,
            interval=0.1,
        )
        assert handle.last_exit_code not in (None, 0)
        assert handle.logs(previous=True)  # the failed run's output is kept
        wait_for(
            lambda: Probe(handle.status()[0] == "FAILED", None, str(handle.status())),
            what="FAILED status",
            timeout=60,
            interval=0.05,
        )
        assert "exited with code" in handle.status()[1]
        handle.stop()
    assert processes_with(marker) == []


@pytest.mark.slow
def test_milvus_lite_by_dns_survives_crash_stop_and_relaunch(
    runtime: LocalRuntime, tmp_path: Path, marker: str
) -> None:
    require_nss_wrapper()
    ip, port = loopback_ip(), free_port()
    hosts = milvus_hosts(ip)
    volume = tmp_path / "volume"
    launch = make_launch(
        tmp_path,
        marker,
        runtime="milvus-lite",
        service="milvus",
        ip=ip,
        port=port,
        hosts=hosts,
        volume=volume,
    )
    handle = runtime.launch(launch)
    wait_container(handle, "READY")
    assert handle.status() == ("READY", "Running")
    assert handle.restart_count == 0
    assert handle.last_exit_code is None
    assert handle.start_time is not None

    client = (
        "from pymilvus import MilvusClient\n"
        f"c = MilvusClient('http://milvus.abcd.svc.spcs.internal:{port}', timeout=10)\n"
        "if 'docs' not in c.list_collections(): c.create_collection('docs', dimension=4)\n"
        f"print(sorted(MilvusClient('http://milvus:{port}', timeout=10).list_collections()))\n"
    )
    assert run_client(client, hosts, tmp_path / "client").strip() == "['docs']"
    log = handle.logs(timestamps=True)
    assert all(TIMESTAMPED.match(line) for line in log.splitlines()), log
    assert "listening" in handle.logs(lines=5)

    handle.crash()
    wait_container(handle, "READY", restarts=1)
    assert handle.last_exit_code == 137
    assert "listening" in handle.logs(previous=True)

    handle.stop()
    assert port_is_free(ip, port)
    handle.stop()  # idempotent

    again = runtime.launch(launch)
    wait_container(again, "READY")
    listing = (
        f"from pymilvus import MilvusClient\nprint(MilvusClient('http://milvus:{port}').list_collections())\n"
    )
    assert run_client(listing, hosts, tmp_path / "client").strip() == "['docs']"
    assert again.logs(previous=True) == ""  # a new launch starts without a previous log


@pytest.mark.slow
def test_jupyter_kernel_reaches_milvus_by_dns_through_the_ingress(
    runtime: LocalRuntime, tmp_path: Path, marker: str
) -> None:
    require_nss_wrapper()
    milvus_ip, milvus_port = loopback_ip(), free_port()
    jupyter_ip, jupyter_port = loopback_ip(), free_port()
    hosts = {**milvus_hosts(milvus_ip), "notebook.abcd.svc.spcs.internal": jupyter_ip}
    milvus_launch = make_launch(
        tmp_path, marker, runtime="milvus-lite", service="milvus", ip=milvus_ip, port=milvus_port, hosts=hosts
    )
    jupyter_launch = make_launch(
        tmp_path,
        marker,
        runtime="jupyter",
        service="notebook",
        ip=jupyter_ip,
        port=jupyter_port,
        protocol="HTTP",
        hosts=hosts,
        image="/db/public/repo/jupyter:v1",
        readiness=(jupyter_port, "/api"),  # as in specs/jupyter.yaml: the one path Jupyter serves to anyone
        ingress_secret="ingress-secret-0123456789",
    )
    milvus, notebook = runtime.launch(milvus_launch), runtime.launch(jupyter_launch)
    wait_container(milvus, "READY")
    wait_container(notebook, "READY")

    ingress = IngressProxy()
    try:
        route = IngressRoute(
            "notebook.abcd.svc.spcs.internal",
            "main",
            jupyter_ip,
            jupyter_port,
            lambda token: (token == "t0ken", "ALICE", "owner" if token == "t0ken" else "bad token"),
            upstream_secret="ingress-secret-0123456789",
        )
        base = "http://" + ingress.open(route)
        code = (
            "import socket\n"
            "print(socket.gethostbyname('milvus.abcd.svc.spcs.internal'))\n"
            "from pymilvus import MilvusClient\n"
            f"print(MilvusClient('http://milvus:{milvus_port}', timeout=10).list_collections())\n"
        )

        status = requests.get(f"http://{jupyter_ip}:{jupyter_port}/api/status", timeout=10).status_code
        jupyter = JupyterOverIngress(base, "t0ken")  # the harness's own client, through the ingress
        names = [item["name"] for item in jupyter.get_json("/api/contents")["content"]]
        output = jupyter.run(code)[0]
    finally:
        ingress.shutdown()
    assert status == 403  # around the ingress, Jupyter answers no one (test_ingress_hardening.py)
    assert "Notebook.ipynb" in names  # the image's files are the server's root dir
    assert output.splitlines() == [milvus_ip, "[]"]


@pytest.mark.slow
def test_real_milvus_binary_answers_by_dns_and_keeps_its_volume(
    runtime: LocalRuntime, tmp_path: Path, marker: str
) -> None:
    launch, hosts, port = real_milvus_on_a_volume(tmp_path, marker)
    handle = runtime.launch(launch)
    wait_container(handle, "READY", timeout=180)
    create = (
        "from pymilvus import MilvusClient\n"
        f"c = MilvusClient('http://milvus.abcd.svc.spcs.internal:{port}', timeout=30)\n"
        "c.create_collection('docs', dimension=4)\n"
        "print(c.list_collections())\n"
    )
    assert run_client(create, hosts, tmp_path / "client").strip() == "['docs']"
    handle.stop()
    assert port_is_free("0.0.0.0", port)

    again = runtime.launch(launch)
    wait_container(again, "READY", timeout=180)
    listing = (
        f"from pymilvus import MilvusClient\nprint(MilvusClient('http://milvus:{port}').list_collections())\n"
    )
    assert run_client(listing, hosts, tmp_path / "client").strip() == "['docs']"
