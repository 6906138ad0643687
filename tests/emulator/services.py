"""Services of DB.PUBLIC on the real process runtime, for the tests that attack or inspect their
containers: create one from a spec, find its container, the container's processes, its notebook through
the ingress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import snowflake.connector
import yaml

from milvus_spcs.jupyter_client import JupyterOverIngress
from milvus_spcs.target import token_of
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.lifecycle import ENDPOINT_PROVISIONING_TEXT
from spcs_emulator.spcs.processes import descendants
from spcs_emulator.spcs.runtime import LocalContainer
from tests.emulator.images import publish, publish_files
from tests.emulator.sql import rows

REPO = Path(__file__).resolve().parents[2]
LITE_SPEC = """
spec:
  containers:
  - name: main
    image: /db/public/repo/lite:v1
  endpoints:
  - name: grpc
    port: 19530
    protocol: TCP
"""
JUPYTER_SPEC = """
spec:
  containers:
  - name: main
    image: /db/public/repo/jupyter:v1
    readinessProbe:
      port: 8888
      path: /api
  endpoints:
  - name: web
    port: 8888
    protocol: HTTP
    public: true
"""


def create_service(
    emu: Emulator, name: str, spec: str, runtime_kind: str
) -> snowflake.connector.SnowflakeConnection:
    """DB.PUBLIC.<name> from ``spec``, its image published with ``runtime_kind``; an admin connection."""
    conn = snowflake.connector.connect(**emu.connection_parameters())
    cur = conn.cursor()
    for sql in (
        "CREATE SECURITY INTEGRATION IF NOT EXISTS SNOWSERVICES_INGRESS_OAUTH TYPE = OAUTH "
        "OAUTH_CLIENT = SNOWSERVICES_INGRESS ENABLED = TRUE",
        "USE ROLE SYSADMIN",
        "CREATE DATABASE IF NOT EXISTS DB",
        "CREATE IMAGE REPOSITORY IF NOT EXISTS DB.PUBLIC.REPO",
        "CREATE COMPUTE POOL IF NOT EXISTS POOL MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS",
    ):
        cur.execute(sql)
    repo = rows(cur, "SHOW IMAGE REPOSITORIES IN SCHEMA DB.PUBLIC")[0]["repository_url"]
    image = yaml.safe_load(spec)["spec"]["containers"][0]["image"].rsplit("/", 1)[-1]
    if runtime_kind == "jupyter":
        publish_files(emu, f"{repo}/{image}", runtime_kind, REPO / "images" / "jupyter")
    else:
        publish(emu, f"{repo}/{image}", runtime_kind)
    cur.execute(f"CREATE SERVICE DB.PUBLIC.{name} IN COMPUTE POOL POOL FROM SPECIFICATION $$\n{spec}\n$$")
    return conn


def container_of(emu: Emulator, name: str) -> LocalContainer:
    with emu.account.state.lock:
        state = emu.control.services[("DB", "PUBLIC", name.upper())]
        handle = next(iter(state.instances[0].containers.values()))
    assert isinstance(handle, LocalContainer)
    return handle


def notebook_over_ingress(conn: Any, service: str) -> JupyterOverIngress:
    """The harness's Jupyter client on a running notebook service of DB.PUBLIC, through the ingress,
    as the connection's user (waits for the endpoint's URL)."""
    cur = conn.cursor()

    def ingress() -> Probe[str]:
        url = rows(cur, f"SHOW ENDPOINTS IN SERVICE DB.PUBLIC.{service}")[0]["ingress_url"]
        return Probe(url != ENDPOINT_PROVISIONING_TEXT, url, state=url)

    host = wait_for(ingress, what=f"the {service} ingress URL", timeout=30, interval=0.2)
    return JupyterOverIngress(f"http://{host}", token_of(conn))


def tree(handle: LocalContainer) -> list[int]:
    """The container's processes, its main process first. ``handle.pid`` is the emulator's watchdog
    above them (spcs/watchdog.py), which is not part of the container."""
    return [main_process(handle), *(p for p in descendants(main_process(handle)))]


def main_process(handle: LocalContainer) -> int:
    """The container's command: below its watchdog, and below bubblewrap's processes when the
    container runs in a sandbox (spcs/confinement.py)."""
    assert handle.pid is not None
    pid = min(child.pid for child in psutil.Process(handle.pid).children())
    while Path(psutil.Process(pid).exe()).name == "bwrap":
        pid = min(child.pid for child in psutil.Process(pid).children())
    return pid
