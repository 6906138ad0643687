"""Process trees of emulated containers: find them in /proc and end them all, as a container's end would.

A container's processes are started in a session of their own (``start_new_session=True``), so one
``killpg`` reaches most of them. Some children open sessions of their own (Jupyter starts every kernel
with ``start_new_session``), so the tree is also walked through /proc parent links before signalling.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

from milvus_spcs.errors import WaitTimeout
from milvus_spcs.waits import Probe, wait_for

PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, session, ...)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rfind(")") + 2 :].split()


def is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie only waits to be reaped)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first-level first), from one /proc scan."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        nxt = [c for p in frontier for c in children.get(p, [])]
        found.extend(nxt)
        frontier = nxt
    return found


def _signal_all(proc: subprocess.Popen, pids: list[int], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the session leader's group: everything that did not move away
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _all_gone(proc: subprocess.Popen, pids: list[int]) -> Probe[bool]:
    proc.poll()  # reap the leader, or it stays a zombie and keeps its group alive in /proc
    left = [p for p in (proc.pid, *pids) if is_alive(p)]
    return Probe(not left, True, f"still running: {left}")


def kill_tree(proc: subprocess.Popen, *, also: Iterable[int] = (), timeout: float = 10.0) -> None:
    """SIGKILL the process, its group, its descendants (and ``also``); wait until they are gone."""
    pids = sorted(set(descendants(proc.pid)) | set(also))
    _signal_all(proc, pids, signal.SIGKILL)
    wait_for(
        lambda: _all_gone(proc, pids),
        what=f"killed process tree of {proc.pid}",
        timeout=timeout,
        interval=0.05,
    )


def terminate_tree(proc: subprocess.Popen, *, grace: float) -> None:
    """SIGTERM the tree, give it ``grace`` seconds to exit cleanly, then SIGKILL what is left."""
    pids = descendants(proc.pid)
    _signal_all(proc, pids, signal.SIGTERM)
    try:
        wait_for(
            lambda: _all_gone(proc, pids),
            what=f"exit of process tree {proc.pid}",
            timeout=grace,
            interval=0.05,
        )
    except WaitTimeout:
        kill_tree(proc, also=pids)  # children re-parented to init are no longer below proc.pid
    else:
        _signal_all(proc, [], signal.SIGKILL)  # stragglers that stayed in the group without a parent
