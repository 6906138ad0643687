"""CI check of the user path: a separately started `milvus-spcs emulator`, named in connections.toml,
takes `pytest -m spcs --snowflake-connection emulator`; afterwards the run's timeline.png,
timeline.json and usage.json are in its artifacts, nothing of the run is left and
SIGTERM stops the emulator and everything it started. The temporary SNOWFLAKE_HOME (the admin
password, the emulator's state) is private to this user and removed on every exit path."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from named_emulator import NamedEmulator, named_emulator

from milvus_spcs.naming import new_run_id

REPO = Path(__file__).resolve().parents[1]


def exit_on_sigterm(signum: int, frame: object) -> None:
    """A CI cancel sends SIGTERM: unwind through every finally, so the home is removed then too. Once:
    a second SIGTERM must not interrupt that cleanup."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    with named_emulator() as emulator:
        code = run_on(emulator)
    print(f"emulator exited with {emulator.process.returncode}", flush=True)
    return code


def run_on(emulator: NamedEmulator) -> int:
    port = re.search(r"^port = (\d+)$", emulator.toml, re.MULTILINE)
    print(f"emulator running on port {port.group(1) if port else '?'}", flush=True)
    run_id = new_run_id()
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "spcs",
            "--snowflake-connection",
            "emulator",
            "--run-id",
            run_id,
            "-p",
            "no:cacheprovider",
            "--junitxml=artifacts/junit-spcs-named-emulator.xml",
            # the scale benchmark's SPCS test runs once, in CI's default pytest step
            "--ignore=suites/spcs/test_scale.py",
        ],
        env=emulator.env,
        cwd=REPO,
    )
    status = emulator.cli("status")
    print(status.stdout, status.stderr[-2000:], flush=True)
    clean = "no labelled objects" in status.stdout
    if not clean:
        print("objects of the run were left behind", file=sys.stderr)
    records = [REPO / "artifacts" / run_id / name for name in ("timeline.png", "timeline.json", "usage.json")]
    missing = [str(path) for path in records if not path.is_file()]
    if missing:
        print(f"the run's records are missing: {', '.join(missing)}", file=sys.stderr)
    return tests.returncode or (0 if clean and not missing else 1)


if __name__ == "__main__":
    sys.exit(main())
