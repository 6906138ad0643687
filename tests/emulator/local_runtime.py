"""Real processes on the local runtime, for the tests that launch containers without the control plane:
a launch marked for the test, the processes still carrying the mark, DNS for unmodified clients.

Every launch carries ``MARKER_ENV`` with the test's marker (the ``marker`` fixture): after the runtime
shuts down, no process carrying it may be left (that includes Jupyter kernels, in sessions of their own).
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.spcs import dns
from spcs_emulator.spcs.runtime import LocalContainer
from spcs_emulator.spcs.runtime_api import ContainerLaunch, EndpointSpec
from spcs_emulator.spcs.runtime_kinds import ContainerDirs, RunPlan

MARKER_ENV = "SPCS_RUNTIME_TEST_MARKER"
HAS_NSS_WRAPPER = dns.nss_wrapper_library() is not None


def require_nss_wrapper() -> None:
    if HAS_NSS_WRAPPER:
        return
    # scripts/install.sh (the README's install) provides it: missing is a broken setup, not a reason to skip.
    pytest.fail(f"service DNS needs the Debian package {dns.APT_PACKAGE}: run bash scripts/install.sh")


def loopback_ip() -> str:
    """A container address unlikely to be used by anything else running on this machine."""
    return f"127.0.{random.randint(100, 250)}.{random.randint(2, 250)}"


def free_port() -> int:
    """A port free on every address (Milvus binds 0.0.0.0), instead of the fixed 19530."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def environ(pid: int) -> dict[str, str]:
    """The environment ``pid`` started with; empty once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return {}
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def processes_with(marker: str) -> list[int]:
    """The live processes whose environment carries ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"{MARKER_ENV}={marker}".encode() in environ.split(b"\0") and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def make_launch(
    tmp_path: Path,
    marker: str,
    *,
    runtime: str,
    service: str,
    ip: str,
    port: int,
    hosts: dict[str, str],
    protocol: str = "TCP",
    volume: Path | None = None,
    **extra: Any,
) -> ContainerLaunch:
    fields: dict[str, Any] = {
        "service": f"DB.PUBLIC.{service.upper()}",
        "instance_id": 0,
        "container": "main",
        "runtime": runtime,
        "image": f"/db/public/repo/{runtime}:v1",
        "env": {MARKER_ENV: marker},
        "secret_files": {},
        "command": None,
        "args": None,
        "endpoints": (EndpointSpec("main", port, protocol, protocol != "TCP"),),
        "volumes": {"/var/lib/milvus": volume} if volume is not None else {},
        "readiness": None,
        "ip": ip,
        "hosts": hosts,
        "log_dir": tmp_path / "logs" / service,
    }
    fields.update(extra)
    return ContainerLaunch(**fields)


def wait_container(
    handle: LocalContainer, status: str, timeout: float = 60.0, restarts: int | None = None
) -> None:
    """Until the container's status is ``status`` (after ``restarts`` restarts, when given)."""

    def check() -> Probe[None]:
        state = handle.status()
        done = state[0] == status and (restarts is None or handle.restart_count == restarts)
        return Probe(done, None, f"{state}, restarts={handle.restart_count}")

    wait_for(check, what=f"container {status}", timeout=timeout, interval=0.1)


def idle_plan(launch: ContainerLaunch, dirs: ContainerDirs, _cache: Path) -> RunPlan:
    """A container that runs until stopped and listens on nothing (ready as soon as it runs)."""
    return RunPlan([sys.executable, "-c", "import signal; signal.pause()"], dirs.cwd)


def run_client(code: str, hosts: dict[str, str], workdir: Path) -> str:
    """An unmodified Python client in a subprocess with the service DNS environment."""
    env = {**os.environ, **dns.dns_environment(hosts, workdir)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def milvus_hosts(ip: str) -> dict[str, str]:
    return {"milvus.abcd.svc.spcs.internal": ip, "milvus": ip}


def real_milvus_on_a_volume(tmp_path: Path, marker: str) -> tuple[ContainerLaunch, dict[str, str], int]:
    """The launch of the real Milvus binary on a volume of its own; its DNS names and gRPC port."""
    require_nss_wrapper()
    ip, port = loopback_ip(), free_port()
    hosts = milvus_hosts(ip)
    volume = tmp_path / "vol"
    launch = make_launch(
        tmp_path, marker, runtime="milvus", service="milvus", ip=ip, port=port, hosts=hosts, volume=volume
    )
    return launch, hosts, port
