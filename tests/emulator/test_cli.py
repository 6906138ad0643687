"""`milvus-spcs emulator` as a user runs it: a subprocess, a connections.toml entry, push, SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
import requests
import snowflake.connector

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.spcs.processes import descendants, is_alive
from tests.emulator.sql import rows, wait_status

pytestmark = pytest.mark.slow
SPEC = (
    '{"spec": {"containers": [{"name": "db", "image": "/d/public/r/lite:1", '
    '"volumeMounts": [{"name": "data", "mountPath": "/var/lib/milvus"}]}], '
    '"endpoints": [{"name": "grpc", "port": 19541, "protocol": "TCP"}], '
    '"volumes": [{"name": "data", "source": "block", "size": "1Gi"}]}}'
)


def test_serve_push_and_sigterm_stops_everything(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SPCS_EMULATOR_ADMIN_PASSWORD": "cli-test-password",
        "PYTHONPATH": str(
            Path(__file__).resolve().parents[2] / "src"
        ),  # this checkout, not an installed copy
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "milvus_spcs.cli", "emulator", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    # A reader thread keeps the wait's deadline honest: readline() alone could block forever.
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:

        def printed_entry() -> Probe[str]:
            text = "".join(lines)
            return Probe("protocol = " in text and 'role = "ACCOUNTADMIN"' in text, text, state=text[-200:])

        text = wait_for(printed_entry, what="the connections.toml entry", timeout=60, interval=0.01)
        entry = tomllib.loads("\n".join(x for x in text.splitlines() if not x.startswith("#")))["emulator"]
        assert (entry["protocol"], entry["user"], entry["password"]) == ("http", "ADMIN", "cli-test-password")
        conn = snowflake.connector.connect(
            account=entry["account"],
            user=entry["user"],
            password=entry["password"],
            host=entry["host"],
            port=entry["port"],
            protocol="http",
        )
        cur = conn.cursor()
        for sql in (
            "CREATE DATABASE D",
            "CREATE IMAGE REPOSITORY R",
            "CREATE COMPUTE POOL P MIN_NODES=1 MAX_NODES=1 INSTANCE_FAMILY=CPU_X64_XS",
        ):
            cur.execute(sql)
        url = rows(cur, "SHOW IMAGE REPOSITORIES")[0]["repository_url"]
        pushed = subprocess.run(
            [
                sys.executable,
                "-m",
                "milvus_spcs.cli",
                "emulator",
                "push",
                f"{url}/lite:1",
                "--runtime",
                "milvus-lite",
                "--port",
                str(entry["port"]),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert pushed.returncode == 0, pushed.stderr
        assert rows(cur, "SHOW IMAGES IN IMAGE REPOSITORY R")[0]["image_name"] == "lite"
        cur.execute(f"CREATE SERVICE S IN COMPUTE POOL P FROM SPECIFICATION $${SPEC}$$")
        wait_status(cur, "S", "RUNNING", timeout=60)
        # Raw HTTP on purpose: no password header at all, which ControlClient cannot send.
        bad = requests.post(f"http://127.0.0.1:{entry['port']}/_emulator/reset", timeout=5)
        assert bad.status_code == 401  # the control API needs the admin password
        conn.close()
        started = descendants(proc.pid)
        assert started, "the service's process runs under the emulator"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    assert [p for p in started if is_alive(p)] == []
    reader.join(timeout=10)
    assert re.search(r"stopping", "".join(lines))
