"""Hardening drills: what a CI cancel, a crashed emulator and two runs at once do to the harness.

    python scripts/drills.py concurrent        two `pytest -m spcs` at once on one host, each with its
                                               own self-started emulator: both green
    python scripts/drills.py concurrent-named  two `pytest -m spcs` at once on ONE named emulator: both
                                               green, and afterwards no labelled object
    python scripts/drills.py emulator-sigkill  the emulator SIGKILLed with services up: no process of its
                                               tree is left 15 s later
    python scripts/drills.py pytest-sigkill    pytest SIGKILLed mid-provisioning, then `milvus-spcs janitor
                                               --older-than 0s`: no labelled object and no container left

Each drill prints one `drill <name>: PASS|FAIL ...` line; any failure exits 1. `.ci/run` runs them all.
"""

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
from dataclasses import dataclass
from pathlib import Path

from milvus_spcs.errors import WaitTimeout
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.spcs.processes import descendants, is_alive

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "milvus_spcs.cli"]
LABEL = "milvus-spcs run="


class DrillFailed(Exception):
    pass


@dataclass
class NamedEmulator:
    """A `milvus-spcs emulator` in its own process, named `emulator` in a private connections.toml."""

    process: subprocess.Popen[str]
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*CLI, *args, "--snowflake-connection", "emulator"]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=600)

    def labelled_objects(self) -> str:
        """`milvus-spcs status` output; 'no labelled objects' when the account is clean."""
        result = self.cli("status")
        if result.returncode != 0:
            raise DrillFailed(f"milvus-spcs status failed ({result.returncode}): {result.stderr[-1500:]}")
        return result.stdout.strip()

    def container_pids(self) -> list[int]:
        """Processes of the emulator's containers (their watchdogs included), not its directory guards,
        which live as long as the emulator itself."""
        return [pid for pid in descendants(self.process.pid) if " guard " not in _command(pid)]


@contextlib.contextmanager
def named_emulator() -> Iterator[NamedEmulator]:
    # The admin password lives only in this private, removed-on-exit SNOWFLAKE_HOME (mode 0700).
    home = Path(tempfile.mkdtemp(prefix="drill-snowflake-home-"))
    env = {
        **os.environ,
        "SPCS_EMULATOR_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "SNOWFLAKE_HOME": str(home),
    }
    process = subprocess.Popen(
        [*CLI, "emulator", "--state-dir", str(home / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        entry = wait_for(
            lambda: Probe(any("role = " in line for line in lines), "".join(lines), "".join(lines)[-300:]),
            what="the emulator's connections.toml entry",
            timeout=120,
            interval=0.1,
        )
        toml = "\n".join(line for line in (entry or "").splitlines() if not line.startswith("#"))
        (home / "connections.toml").write_text(toml + "\n")
        (home / "connections.toml").chmod(0o600)
        yield NamedEmulator(process, env)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(home, ignore_errors=True)


def pytest_spcs(*extra: str, env: dict[str, str] | None = None, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pytest", "-m", "spcs", "-p", "no:cacheprovider", "-q", *extra]
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _finish_both(runs: list[tuple[subprocess.Popen[bytes], Path]]) -> None:
    failed = []
    for process, log in runs:
        if process.wait(timeout=1800) != 0:
            failed.append(f"{log.name} exited {process.returncode}:\n{_tail(log)}")
    if failed:
        raise DrillFailed("\n\n".join(failed))
    for _, log in runs:
        print(f"  {log.name}: {_tail(log, 1)}")


def drill_concurrent(artifacts: Path) -> str:
    runs = []
    for i in (1, 2):
        log = artifacts / f"drill-concurrent-{i}.log"
        runs.append((pytest_spcs(f"--junitxml={artifacts}/junit-drill-concurrent-{i}.xml", log=log), log))
    _finish_both(runs)
    return "two self-started runs at once, both green"


def drill_concurrent_named(artifacts: Path) -> str:
    with named_emulator() as emu:
        runs = []
        for i in (1, 2):
            log = artifacts / f"drill-concurrent-named-{i}.log"
            extra = (
                "--snowflake-connection",
                "emulator",
                f"--junitxml={artifacts}/junit-drill-named-{i}.xml",
            )
            runs.append((pytest_spcs(*extra, env=emu.env, log=log), log))
        _finish_both(runs)
        left = emu.labelled_objects()
        if left != "no labelled objects":
            raise DrillFailed(f"objects left on the emulator: {left}")
    return "two runs at once on one named emulator, both green, nothing left"


def _gone_within(pids: list[int], seconds: float, what: str) -> None:
    def check() -> Probe[bool]:
        alive = [p for p in pids if is_alive(p)]
        return Probe(not alive, True, f"still alive: {_describe(alive)}")

    try:
        wait_for(check, what=what, timeout=seconds, interval=0.1)
    except WaitTimeout as exc:
        for pid in pids:  # do not leave the orphans to the next CI step
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        raise DrillFailed(str(exc)) from None


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def _describe(pids: list[int]) -> str:
    return ", ".join(f"{pid} ({_command(pid)[-100:].strip()})" for pid in pids) or "-"


def drill_emulator_sigkill(artifacts: Path) -> str:
    with named_emulator() as emu:
        up = emu.cli("up")
        (artifacts / "drill-emulator-sigkill-up.log").write_text(up.stdout + up.stderr)
        if up.returncode != 0:
            raise DrillFailed(f"milvus-spcs up failed ({up.returncode}): {up.stderr[-1500:]}")
        tree = emu.container_pids()
        if not tree:
            raise DrillFailed("no container process runs under the emulator after `milvus-spcs up`")
        os.kill(emu.process.pid, signal.SIGKILL)
        emu.process.wait()
        _gone_within(tree, 15, f"the {len(tree)} processes of the SIGKILLed emulator's containers to end")
    return f"emulator SIGKILLed with services up: its {len(tree)} container processes ended within 15 s"


def drill_pytest_sigkill(artifacts: Path) -> str:
    with named_emulator() as emu:
        log = artifacts / "drill-pytest-sigkill.log"
        run = pytest_spcs("--snowflake-connection", "emulator", env=emu.env, log=log)
        try:
            # Mid-provisioning: a service of the run exists (the pools and the database came before it).
            wait_for(
                lambda: _service_exists(emu),
                what="a labelled service (provisioning under way)",
                timeout=300,
                interval=0.5,
            )
        finally:
            tree = descendants(run.pid)
            run.kill()
            run.wait()
        _gone_within(tree, 15, "the SIGKILLed pytest's child processes to end")
        before = emu.labelled_objects()
        sweep = emu.cli("janitor", "--older-than", "0s")
        if sweep.returncode != 0:
            raise DrillFailed(f"janitor failed ({sweep.returncode}): {sweep.stderr[-1500:]}")
        after = emu.labelled_objects()
        if after != "no labelled objects":
            raise DrillFailed(f"the janitor left: {after}")
        _gone_within(emu.container_pids(), 60, "the swept run's containers to stop")
    first = before.splitlines()[0] if before else "-"
    return f"pytest SIGKILLed mid-provisioning ({first[:100]}...); janitor left no object, no process"


def _service_exists(emu: NamedEmulator) -> Probe[bool]:
    status = emu.labelled_objects()
    return Probe(bool(re.search(r"service \S+", status)), True, status[-200:])


DRILLS = {
    "concurrent": drill_concurrent,
    "concurrent-named": drill_concurrent_named,
    "emulator-sigkill": drill_emulator_sigkill,
    "pytest-sigkill": drill_pytest_sigkill,
}


def main(argv: list[str]) -> int:
    chosen = argv or list(DRILLS)
    unknown = [name for name in chosen if name not in DRILLS]
    if unknown:
        print(f"unknown drill(s) {unknown}; choose from {', '.join(DRILLS)}", file=sys.stderr)
        return 2
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    failures = 0
    for name in chosen:
        try:
            print(f"drill {name}: PASS {DRILLS[name](artifacts)}", flush=True)
        except DrillFailed as exc:
            failures += 1
            print(f"drill {name}: FAIL {exc}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
