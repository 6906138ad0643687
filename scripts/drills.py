"""Hardening drills: what a CI cancel, a crashed emulator and two runs at once do to the harness.

    python scripts/drills.py concurrent        two `pytest -m spcs` at once on one host, each with its
                                               own self-started emulator: both green
    python scripts/drills.py concurrent-named  two `pytest -m spcs` at once on ONE named emulator: both
                                               green, each run's records written (timeline.png,
                                               timeline.json, usage.json), afterwards no labelled object
    python scripts/drills.py emulator-sigkill  the emulator SIGKILLed with services up: no process of its
                                               tree is left 15 s later
    python scripts/drills.py pytest-sigkill    pytest SIGKILLed mid-provisioning, then `milvus-spcs janitor
                                               --older-than 0s`: no labelled object and no container left
    python scripts/drills.py container-sigkill pytest SIGKILLed with a testcontainers Milvus up (Ryuk off):
                                               the container outlives it, labelled with the run, and
                                               `milvus-spcs janitor --older-than 0s` removes it
    python scripts/drills.py docker-concurrent two `pytest -m spcs --emulator-runtime docker` at once, each
                                               pushing the images to its own emulator's registry, the
                                               first with the upgrade suite: both green, the upgrade
                                               passed, and no container, network or pushed tag left
    python scripts/drills.py docker-emulator-sigkill
                                               an emulator with the docker runtime SIGKILLed with services
                                               up: none of its containers or networks is left 15 s later

Each drill prints one `drill <name>: PASS|FAIL ...` line; any failure exits 1. `.ci/run` runs them all.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
from named_emulator import NamedEmulator, named_emulator

from milvus_spcs.errors import WaitTimeout
from milvus_spcs.naming import new_run_id
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator import DOCKER_INSTANCE_LABEL, DOCKER_STATE_LABEL, docker_state_label

REPO = Path(__file__).resolve().parents[1]


class DrillFailed(Exception):
    pass


def labelled_objects(emu: NamedEmulator) -> str:
    """`milvus-spcs status` output; 'no labelled objects' when the account is clean."""
    result = emu.cli("status")
    if result.returncode != 0:
        raise DrillFailed(f"milvus-spcs status failed ({result.returncode}): {result.stderr[-1500:]}")
    return result.stdout.strip()


def container_pids(emu: NamedEmulator) -> list[int]:
    """Processes of the emulator's containers (their watchdogs included), not its directory guards or
    its registry, which live as long as the emulator itself."""
    tree = descendants(emu.process.pid)
    # The image registry's storage (and the watchdog it runs under) lives as long as the emulator.
    registry = {pid for pid in tree if "docker-registry serve" in _command(pid)}
    registry |= {_parent(pid) for pid in registry}
    return [pid for pid in tree if " guard " not in _command(pid) and pid not in registry]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (zombies included); none once ``pid`` is gone."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie only waits to be reaped)."""
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return False


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


# The scale benchmark's SPCS test measures search, not the lifecycle the drills attack; the default
# `pytest` step of CI runs it once.
SKIP = ("--ignore=suites/spcs/test_scale.py",)


def pytest_spcs(*extra: str, env: dict[str, str] | None = None, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pytest", "-m", "spcs", "-p", "no:cacheprovider", "-q", *SKIP, *extra]
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


RUN_RECORDS = ("timeline.png", "timeline.json", "usage.json")


def drill_concurrent_named(artifacts: Path) -> str:
    """The user path: a separately started `milvus-spcs emulator` named in connections.toml (twice at
    once); each run writes its records, nothing is left, and SIGTERM stops the emulator cleanly (exit
    0: it stopped what it started; the emulator-sigkill drill covers the unclean way)."""
    run_ids = [new_run_id(), new_run_id()]
    with named_emulator() as emu:
        runs = []
        for i, run_id in enumerate(run_ids, start=1):
            log = artifacts / f"drill-concurrent-named-{i}.log"
            extra = (
                "--snowflake-connection",
                "emulator",
                "--run-id",
                run_id,
                f"--junitxml={artifacts}/junit-drill-named-{i}.xml",
            )
            runs.append((pytest_spcs(*extra, env=emu.env, log=log), log))
        _finish_both(runs)
        left = labelled_objects(emu)
        if left != "no labelled objects":
            raise DrillFailed(f"objects left on the emulator: {left}")
    missing = [
        str(REPO / "artifacts" / run_id / name)
        for run_id in run_ids
        for name in RUN_RECORDS
        if not (REPO / "artifacts" / run_id / name).is_file()
    ]
    if missing:
        raise DrillFailed(f"the runs' records are missing: {', '.join(missing)}")
    if emu.process.returncode != 0:
        raise DrillFailed(f"the emulator exited {emu.process.returncode} on SIGTERM")
    return "two runs at once on one named emulator: both green, records written, nothing left, clean stop"


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
        tree = container_pids(emu)
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
        before = labelled_objects(emu)
        sweep = emu.cli("janitor", "--older-than", "0s")
        if sweep.returncode != 0:
            raise DrillFailed(f"janitor failed ({sweep.returncode}): {sweep.stderr[-1500:]}")
        after = labelled_objects(emu)
        if after != "no labelled objects":
            raise DrillFailed(f"the janitor left: {after}")
        _gone_within(container_pids(emu), 60, "the swept run's containers to stop")
    first = before.splitlines()[0] if before else "-"
    return f"pytest SIGKILLed mid-provisioning ({first[:100]}...); janitor left no object, no process"


def drill_container_sigkill(artifacts: Path) -> str:
    from milvus_spcs.backends.container import leftover_containers

    image = os.environ.get("MILVUS_SPCS_MILVUS_IMAGE", "milvus-spcs/milvus:dev")
    run_id = "dr" + os.urandom(2).hex()
    log = artifacts / "drill-container-sigkill.log"
    with named_emulator() as emu, log.open("wb") as out:
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "local",
            "--milvus-backend",
            "container",
            "--milvus-image",
            image,
            "--run-id",
            run_id,
            "-p",
            "no:cacheprovider",
            "-q",
        ]
        run = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(
                lambda: Probe(bool(leftover_containers(run_id)), True, "no container of the run yet"),
                what=f"a container labelled with run {run_id}",
                timeout=300,
                interval=0.5,
            )
        finally:
            run.kill()
            run.wait()
        left = leftover_containers(run_id)
        if not left:
            raise DrillFailed("the container went with pytest: nothing for the janitor to prove")
        sweep = emu.cli("janitor", "--older-than", "0s")
        if sweep.returncode != 0:
            raise DrillFailed(f"janitor failed ({sweep.returncode}): {sweep.stderr[-1500:]}")
        after = leftover_containers(run_id)
        if after:
            raise DrillFailed(f"the janitor left containers {after}: {sweep.stdout[-1500:]}")
    return f"pytest SIGKILLed with {', '.join(left)} up; janitor removed it (image {image})"


def _docker_ids(*listing: str) -> list[str]:
    found = subprocess.run(["docker", *listing, "-q"], capture_output=True, text=True, timeout=60)
    return found.stdout.split()


def _emulator_leftovers(label: str = DOCKER_INSTANCE_LABEL) -> list[str]:
    """Containers and networks of docker-runtime emulators (``label``: any, or one ``key=value``)."""
    return _docker_ids("ps", "-a", "--filter", f"label={label}") + _docker_ids(
        "network", "ls", "--filter", f"label={label}"
    )


def _pushed_references() -> list[str]:
    """Images tagged or pulled under an emulator registry's loopback name."""
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [line for line in listed.stdout.split() if re.match(r"127\.\d+\.\d+\.\d+:\d+/", line)]


def drill_docker_concurrent(artifacts: Path) -> str:
    """Two docker-runtime runs at once; the first also upgrades Milvus 2.3.4 -> 2.3.5 on one block
    volume (the upgrade suite), so that the upgrade is proven while another run pushes and runs."""
    before = set(_pushed_references())
    runs = []
    for i in (1, 2):
        log = artifacts / f"drill-docker-concurrent-{i}.log"
        upgrade = () if i == 1 else ("--ignore=suites/spcs/test_upgrade.py",)
        extra = (
            "--emulator-runtime",
            "docker",
            *upgrade,
            f"--junitxml={artifacts}/junit-drill-docker-{i}.xml",
        )
        runs.append((pytest_spcs(*extra, log=log), log))
    _finish_both(runs)
    upgraded = _passed(artifacts / "junit-drill-docker-1.xml", "suites.spcs.test_upgrade")
    if not upgraded:
        raise DrillFailed("the upgrade suite did not pass in the first run (skipped or missing)")
    left = _emulator_leftovers()
    pushed = sorted(set(_pushed_references()) - before)
    if left or pushed:
        raise DrillFailed(f"left behind: containers/networks {left}, images {pushed}")
    return (
        "two docker-runtime runs at once (images pushed, pulled by digest), both green, "
        f"{upgraded} upgrade test(s) passed in the first, nothing left"
    )


def _passed(junit: Path, classname: str) -> int:
    """How many tests of ``classname`` passed (neither failed nor skipped) in a JUnit file."""
    cases = [c for c in ET.parse(junit).iter("testcase") if c.get("classname") == classname]
    return sum(
        1 for c in cases if not any(c.find(tag) is not None for tag in ("failure", "error", "skipped"))
    )


def drill_docker_emulator_sigkill(artifacts: Path) -> str:
    before = set(_pushed_references())
    with named_emulator("--container-runtime", "docker") as emu:
        up = emu.cli("up", "--image-source", "push")
        (artifacts / "drill-docker-emulator-sigkill-up.log").write_text(up.stdout + up.stderr)
        if up.returncode != 0:
            raise DrillFailed(f"milvus-spcs up failed ({up.returncode}): {up.stderr[-1500:]}")
        label = f"{DOCKER_STATE_LABEL}={docker_state_label(emu.state_dir)}"
        running = _docker_ids("ps", "--filter", f"label={label}")
        if len(running) != 2:
            raise DrillFailed(f"expected the 2 services' containers after `milvus-spcs up`, found {running}")
        os.kill(emu.process.pid, signal.SIGKILL)
        emu.process.wait()

        def gone() -> Probe[bool]:
            left = _emulator_leftovers(label) + sorted(set(_pushed_references()) - before)
            return Probe(not left, True, f"still there: {left}")

        try:
            wait_for(
                gone, what="the SIGKILLed emulator's containers and network to go", timeout=15, interval=0.2
            )
        except WaitTimeout as exc:
            raise DrillFailed(str(exc)) from None
    return "emulator SIGKILLed with 2 docker services up: containers, network, pulled images gone within 15 s"


def _service_exists(emu: NamedEmulator) -> Probe[bool]:
    status = labelled_objects(emu)
    return Probe(bool(re.search(r"service \S+", status)), True, status[-200:])


DRILLS = {
    "concurrent": drill_concurrent,
    "concurrent-named": drill_concurrent_named,
    "emulator-sigkill": drill_emulator_sigkill,
    "pytest-sigkill": drill_pytest_sigkill,
    "container-sigkill": drill_container_sigkill,
    "docker-concurrent": drill_docker_concurrent,
    "docker-emulator-sigkill": drill_docker_emulator_sigkill,
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
