"""`milvus-spcs emulator` run as a user runs it, in a subprocess: its connections.toml entry, its state
directory, a connection, and its images published through its control API."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import snowflake.connector

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator import ControlClient

SRC = Path(__file__).resolve().parents[2] / "src"
PASSWORD = "death-test-password"


@dataclass
class CliEmulator:
    """`milvus-spcs emulator` in a subprocess, its output collected by a reader thread."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def entry(self) -> dict:
        def printed() -> Probe[str]:
            text = "".join(self.lines)
            return Probe("protocol = " in text and "# profile=" in text, text, state=text[-300:])

        text = wait_for(printed, what="the connections.toml entry", timeout=60, interval=0.02)
        assert text is not None
        entry = (x for x in text.splitlines() if not x.startswith(("#", "WARNING:")))  # stderr is merged
        return tomllib.loads("\n".join(entry))["emulator"]

    def state_dir(self) -> Path:
        self.entry()
        line = next(x for x in "".join(self.lines).splitlines() if x.startswith("# profile="))
        return Path(line.split("state-dir=", 1)[1].strip())

    def connect(self) -> snowflake.connector.SnowflakeConnection:
        e = self.entry()
        return snowflake.connector.connect(
            account=e["account"],
            user=e["user"],
            password=e["password"],
            host=e["host"],
            port=e["port"],
            protocol="http",
        )

    def publish(self, image: str, runtime: str) -> None:
        """``image`` answered by ``runtime``, through the control API with the admin password it was given."""
        ControlClient("127.0.0.1", int(self.entry()["port"]), PASSWORD, timeout=10).publish_image(
            image, runtime
        )

    def terminate(self) -> None:
        """SIGTERM, as a user's Ctrl-C would, if it still runs; waits for it to end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


def start_cli(tmp_path: Path, *args: str) -> CliEmulator:
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "SPCS_EMULATOR_ADMIN_PASSWORD": PASSWORD,
        "PYTHONPATH": str(SRC),  # this checkout, not an installed copy
        "TMPDIR": str(tmp),  # the emulator's temporary state directory lands where the test sees it
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "milvus_spcs.cli", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        umask=0o022,  # the usual umask: a directory made without an explicit mode is world-readable
    )
    cli = CliEmulator(proc)
    assert proc.stdout is not None
    stdout = proc.stdout
    cli.reader = threading.Thread(target=lambda: cli.lines.extend(iter(stdout.readline, "")), daemon=True)
    cli.reader.start()
    return cli


def kill_all(pids: list[int]) -> None:
    """Cleanup after a failed assertion: what the emulator left must not outlive the test."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
