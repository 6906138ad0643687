"""What a killed emulator left in its state directory, and the claim that keeps two off one directory.

An emulator running on a state directory holds ``run/emulator.pid`` open with an exclusive ``flock``
(the kernel drops it when the process dies, however it dies) and writes its pid, start time and boot id
into it for people to read. Its runtime records every container watchdog in ``run/processes/<pid>.json``
(``processes.Lifeline``) and drops the record when the container's processes are gone.

Normally the watchdogs end every container when the emulator dies. When they were killed as well
(``kill -9 -1``, an OOM kill of the group), the next emulator on the directory claims it (the lock is
free: nobody runs there) and reaps each record before it starts anything:

- a record from another boot is dropped (its pids mean nothing now);
- if the recorded pid is alive with another start time, the pid was reused: then nothing of the old
  session can be alive either (Linux keeps a pid reserved while a session or group uses it), so only
  the record goes;
- otherwise every process of the recorded session or process group, the watchdog itself, and all
  their descendants get SIGKILL (the ports they held are free again);
- the recorded container directory is removed when it lies inside the state directory;
- every service's volumes and logs go (``service_files``): the catalog is not kept across runs, so
  they belong to no service any more (a killed emulator cleans up nothing).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from spcs_emulator.spcs import service_files
from spcs_emulator.spcs.processes import boot_id, kill_pids, start_time
from spcs_emulator.spcs.watchdog import descendants_in, process_table

log = logging.getLogger(__name__)

RUN_DIR = "run"
PIDFILE = "emulator.pid"
RECORDS = "processes"
REAP_TIMEOUT = 10.0


class StateDirInUse(RuntimeError):
    """Another live emulator runs on this state directory."""


def records_dir(state_dir: Path) -> Path:
    return state_dir / RUN_DIR / RECORDS


class StateDirClaim:
    """The exclusive claim of one emulator on its state directory (the pidfile, locked)."""

    def __init__(self, state_dir: Path) -> None:
        run = state_dir / RUN_DIR
        run.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = run / PIDFILE
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip()
            os.close(fd)
            raise StateDirInUse(
                f"state directory {state_dir} is in use by another running emulator ({holder or 'unknown'})"
            ) from None
        self._fd: int | None = fd
        me = {"pid": os.getpid(), "start": start_time(os.getpid()), "boot": boot_id()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            # The file stays (unlinking it while another emulator waits to open it would let two hold
            # locks on two different files); emptied, it says that nobody runs here.
            os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the lock


def _victims(record: dict[str, Any], table: dict[int, list[str]]) -> list[int]:
    """The live processes a record names: its session/group members, itself, all their descendants."""
    leader, started = int(record["pid"]), record.get("start")
    leader_start = start_time(leader)
    if leader_start is not None and leader_start != started:
        return []  # the pid was reused; the old session is entirely gone (see the module doc)
    members = [
        pid
        for pid, fields in table.items()
        if leader in (int(fields[2]), int(fields[3])) and (started is None or int(fields[19]) >= started)
    ]
    roots = sorted({*members, *([leader] if leader_start is not None else [])})
    found = {*roots, *descendants_in(table, roots)}
    found.discard(os.getpid())
    return sorted(p for p in found if table.get(p, ["X"])[0] not in ("Z", "X"))


def _remove_inside(state_dir: Path, directory: str | None) -> None:
    if not directory:
        return
    path = Path(directory).resolve()
    if path != state_dir.resolve() and path.is_relative_to(state_dir.resolve()):
        shutil.rmtree(path, ignore_errors=True)


def reap(state_dir: Path) -> list[int]:
    """Kill what the records of a dead emulator name and remove their directories; return the pids.

    Call only while holding the :class:`StateDirClaim` (then no live emulator owns these records).
    """
    killed = _reap_records(state_dir)
    service_files.remove_all(state_dir)  # after the processes that might still write there are gone
    return killed


def _reap_records(state_dir: Path) -> list[int]:
    directory = records_dir(state_dir)
    if not directory.is_dir():
        return []
    this_boot = boot_id()
    killed: list[int] = []
    for path in sorted(directory.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict) and record.get("boot") == this_boot and "pid" in record:
            victims = _victims(record, process_table())
            if victims:
                log.warning("reaping processes %s left by a previous emulator in %s", victims, state_dir)
                left = kill_pids(victims, what="leftover processes killed", timeout=REAP_TIMEOUT)
                if left:
                    log.warning("leftover processes %s still run after SIGKILL", left)
                killed.extend(victims)
        if isinstance(record, dict):
            _remove_inside(state_dir, record.get("root"))
        path.unlink(missing_ok=True)
    for stale in directory.glob("*.tmp"):
        stale.unlink(missing_ok=True)
    return killed
