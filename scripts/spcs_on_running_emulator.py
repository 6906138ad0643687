"""CI check of the user path: a separately started `milvus-spcs emulator`, named in connections.toml,
takes `pytest -m spcs --snowflake-connection emulator`; afterwards nothing of the run is left and
SIGTERM stops the emulator and everything it started."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from milvus_spcs.waits import Probe, wait_for

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="snowflake-home-"))
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
        (home / "connections.toml").write_text(toml + "\n")
        (home / "connections.toml").chmod(0o600)
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
        emulator.wait(timeout=120)
        print(f"emulator exited with {emulator.returncode}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
