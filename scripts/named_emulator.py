"""A `milvus-spcs emulator` in its own process, named `emulator` in a private SNOWFLAKE_HOME: what
scripts/spcs_on_running_emulator.py and scripts/drills.py both run against.

The admin password (in the environment and in connections.toml) and the emulator's state live only in
that home: 0700, its connections.toml 0600 from the first byte, removed with everything in it however
the block is left."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from milvus_spcs.waits import Probe, wait_for

CLI = [sys.executable, "-m", "milvus_spcs.cli"]


@contextlib.contextmanager
def private_snowflake_home() -> Iterator[Path]:
    """A SNOWFLAKE_HOME only this user can enter (0700), removed with everything in it."""
    home = Path(tempfile.mkdtemp(prefix="snowflake-home-"))  # mkdtemp creates it 0700
    try:
        home.chmod(0o700)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by this user only from the first byte (no chmod after the write)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)


@dataclass
class NamedEmulator:
    process: subprocess.Popen[str]
    env: dict[str, str]  # SNOWFLAKE_HOME points at the private home; the admin password is in it
    toml: str  # its connections.toml entry, as written
    state_dir: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`milvus-spcs ARGS --snowflake-connection emulator`, output captured."""
        command = [*CLI, *args, "--snowflake-connection", "emulator"]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=600)


@contextlib.contextmanager
def named_emulator(*options: str) -> Iterator[NamedEmulator]:
    """Start the emulator, write the connections.toml entry it prints, yield; then SIGTERM it (it stops
    everything it started), SIGKILL after 120 s, and remove the home."""
    with private_snowflake_home() as home:
        env = {
            **os.environ,
            "SPCS_EMULATOR_ADMIN_PASSWORD": secrets.token_urlsafe(18),
            "SNOWFLAKE_HOME": str(home),
        }
        process = subprocess.Popen(
            [*CLI, "emulator", "--state-dir", str(home / "state"), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        try:
            lines: list[str] = []
            stdout = process.stdout
            assert stdout is not None
            threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")), daemon=True).start()
            entry = wait_for(
                lambda: Probe(
                    any("role = " in line for line in lines), "".join(lines), "".join(lines)[-300:]
                ),
                what="the emulator's connections.toml entry",
                timeout=120,
                interval=0.1,
            )
            toml = "\n".join(line for line in entry.splitlines() if not line.startswith("#"))
            write_private(home / "connections.toml", toml + "\n")
            yield NamedEmulator(process, env, toml, home / "state")
        finally:
            if process.poll() is None:  # a drill may have SIGKILLed it already
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    process.kill()  # its state lives in the home, which is removed next
                    process.wait(timeout=30)
