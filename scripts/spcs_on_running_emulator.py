"""CI check of the user path: a separately started `milvus-spcs emulator`, named in connections.toml,
takes `pytest -m spcs --snowflake-connection emulator`; afterwards nothing of the run is left and
SIGTERM stops the emulator and everything it started. The temporary SNOWFLAKE_HOME (the admin
password, the emulator's state) is private to this user and removed on every exit path."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from milvus_spcs.waits import Probe, wait_for

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def private_snowflake_home() -> Iterator[Path]:
    """A SNOWFLAKE_HOME only this user can enter (0700), removed with everything in it (the admin
    password in connections.toml, the emulator's state) however the block is left."""
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


def exit_on_sigterm(signum: int, frame: object) -> None:
    """A CI cancel sends SIGTERM: unwind through every finally, so the home is removed then too. Once:
    a second SIGTERM must not interrupt that cleanup."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    with private_snowflake_home() as home:
        return run_in(home)


def run_in(home: Path) -> int:
    env = {
        **os.environ,
        "SPCS_EMULATOR_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "SNOWFLAKE_HOME": str(home),
    }
    emulator = subprocess.Popen(
        [sys.executable, "-m", "milvus_spcs.cli", "emulator", "--state-dir", str(home / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(emulator.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        entry = wait_for(
            lambda: Probe(
                any("role = " in line for line in lines), "".join(lines), state="".join(lines)[-300:]
            ),
            what="the emulator's connections.toml entry",
            timeout=120,
            interval=0.1,
        )
        toml = "\n".join(line for line in entry.splitlines() if not line.startswith("#"))
        write_private(home / "connections.toml", toml + "\n")
        port = re.search(r"^port = (\d+)$", toml, re.MULTILINE)
        print(f"emulator running on port {port.group(1) if port else '?'}", flush=True)
        tests = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-m",
                "spcs",
                "--snowflake-connection",
                "emulator",
                "-p",
                "no:cacheprovider",
                "--junitxml=artifacts/junit-spcs-named-emulator.xml",
            ],
            env=env,
            cwd=REPO,
        )
        status = subprocess.run(
            [sys.executable, "-m", "milvus_spcs.cli", "status", "--snowflake-connection", "emulator"],
            env=env,
            capture_output=True,
            text=True,
        )
        print(status.stdout, status.stderr[-2000:], flush=True)
        clean = "no labelled objects" in status.stdout
        if not clean:
            print("objects of the run were left behind", file=sys.stderr)
        return tests.returncode or (0 if clean else 1)
    finally:
        emulator.send_signal(signal.SIGTERM)
        try:
            emulator.wait(timeout=120)
        except subprocess.TimeoutExpired:
            emulator.kill()  # its state lives in the home, which is removed next
            emulator.wait(timeout=30)
        print(f"emulator exited with {emulator.returncode}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
