"""Process trees of emulated containers: start them under a watchdog, find them in /proc, end them all.

Every container runs below its own watchdog (``watchdog.py``; why, and what it guarantees, is told
there), started through this runtime's :class:`Lifeline`: the pipe whose write end only the runtime
holds, so every container dies with the emulator however the emulator dies. The lifeline can also
record each watchdog (pid, start time, container directory) in the emulator's state directory, where
a later emulator finds and reaps what a killed one left (``leftovers.py``).

The watchdog leads a session of its own (``start_new_session=True``) that the container's main process
shares, so one ``killpg`` reaches most of a tree. Some children open sessions of their own (Jupyter
starts every kernel with ``start_new_session``), so the tree is also walked through /proc parent links
before signalling.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from spcs_emulator.spcs import watchdog
from spcs_emulator.spcs.watchdog import descendants, is_alive, start_time
from spcs_emulator.waits import Probe, WaitTimeout, wait_for

__all__ = [
    "Lifeline",
    "boot_id",
    "descendants",
    "is_alive",
    "kill_pids",
    "kill_tree",
    "network_isolation_problem",
    "start_time",
    "terminate_tree",
    "write_record",
]

WATCHDOG = Path(watchdog.__file__).resolve()
NETNS = WATCHDOG.with_name("netns.py")
GUARD_EXIT_TIMEOUT = 15.0


def boot_id() -> str:
    """This boot's id: pids and start times recorded under another boot mean nothing."""
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _watchdog_argv(*args: str) -> list[str]:
    # -I -S: no environment, no site packages; the watchdog needs the standard library only.
    return [sys.executable, "-I", "-S", str(WATCHDOG), *args]


@functools.cache
def network_isolation_problem() -> str | None:
    """None when containers can get a network namespace of their own here, else why not (asked once:
    ``netns.py probe`` tries it in a throwaway process, never in this one)."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(NETNS), "probe"],
            env={},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (subprocess.SubprocessError, OSError) as exc:  # a reason, never a dead supervisor thread
        return f"the namespace probe failed: {type(exc).__name__}: {exc}"
    if done.returncode == 0:
        return None
    return (done.stdout.strip() or done.stderr.strip() or f"exit code {done.returncode}").splitlines()[-1]


def write_record(record_dir: Path, pid: int, root: Path | None) -> Path:
    """Record a process tree's leader (and its container directory) for ``leftovers.reap``."""
    record_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    record = {
        "pid": pid,
        "start": start_time(pid),
        "boot": boot_id(),
        "root": None if root is None else str(root),
    }
    path = record_dir / f"{pid}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(path)
    return path


class Lifeline:
    """Containers started through it die when it is closed or its owner process dies (watchdog.py).

    ``record_dir``: where each running watchdog is recorded (one JSON file per pid) for a later
    emulator to reap should this one be killed together with its watchdogs.
    """

    def __init__(self, record_dir: Path | None = None) -> None:
        # os.pipe() gives non-inheritable descriptors: no other child of this process holds the write
        # end, and each watchdog receives only the read end (pass_fds).
        self._read, self._write = os.pipe()
        self.record_dir = record_dir
        self._guards: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        self._closed = False

    def popen(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        root: Path | None = None,
        forwards: Sequence[tuple[socket.socket, int]] | None = None,
        sandbox: Sequence[str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` below a watchdog; the Popen is the watchdog's (its exit code is argv's).

        ``root``: the container's private directory: removed by the watchdog when the lifeline breaks,
        and recorded so that a later emulator removes it should the watchdog have been killed too.
        ``forwards``: run ``argv`` in a network namespace of its own, reachable only through these
        (listening socket in this namespace, port inside) pairs (see ``netns``). The sockets are handed
        to the watchdog; the caller still closes its own copies.
        ``sandbox``: bubblewrap and its options (``confinement.Confinement.argv``): the watchdog runs
        ``argv`` inside it.
        """
        fds = tuple(sock.fileno() for sock, _ in forwards or ())
        with self._lock:
            if self._closed:
                raise RuntimeError("the runtime is shut down: no container may start")
            proc = subprocess.Popen(
                _watchdog_argv("run", str(self._read)),
                cwd=cwd,
                env={},
                stdin=subprocess.PIPE,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(self._read, *fds),
                start_new_session=True,
            )
        assert proc.stdin is not None
        try:
            # The command and environment (secrets included) go through a pipe, never argv.
            with proc.stdin:
                request = {
                    "argv": argv,
                    "env": env,
                    "root": None if root is None else str(root),
                    "record_dir": None if self.record_dir is None else str(self.record_dir),
                    "sandbox": None if sandbox is None else list(sandbox),
                    "network": None
                    if forwards is None
                    else {"forwards": [[sock.fileno(), port] for sock, port in forwards]},
                }
                proc.stdin.write(json.dumps(request).encode())
        except OSError:
            kill_tree(proc)
            raise
        finally:
            proc.stdin = None  # closed: to its user the Popen has no stdin (communicate() works)
        self._record(proc, root)
        return proc

    def forget(self, proc: subprocess.Popen[bytes]) -> None:
        """The watchdog and its tree are gone: drop its record."""
        if self.record_dir is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.record_dir / f"{proc.pid}.json").unlink()

    def _record(self, proc: subprocess.Popen[bytes], root: Path | None) -> None:
        if self.record_dir is not None:
            write_record(self.record_dir, proc.pid, root)

    def guard(self, directory: Path) -> None:
        """Remove ``directory`` once the lifeline is closed or its owner dies (a temporary directory)."""
        with self._lock:
            self._guards.append(
                subprocess.Popen(
                    _watchdog_argv("guard", str(self._read), str(directory)),
                    env={},
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(self._read,),
                    start_new_session=True,
                )
            )

    def reap_docker(self, docker: str, label: str, image_prefix: str = "") -> None:
        """Remove the Docker containers and networks labelled ``label`` (and untag the images whose
        reference starts with ``image_prefix``) once the lifeline is closed or its owner dies, however
        it dies (the docker runtime's containers and pulls)."""
        env = {k: v for k, v in os.environ.items() if k in ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT")}
        with self._lock:
            self._guards.append(
                subprocess.Popen(
                    _watchdog_argv(
                        "docker-reap",
                        str(self._read),
                        docker,
                        label,
                        *([image_prefix] if image_prefix else []),
                    ),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    pass_fds=(self._read,),
                    start_new_session=True,
                )
            )

    def close(self) -> None:
        """Break the lifeline: every watchdog still running ends its tree; guards remove their dirs."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._write)
            os.close(self._read)
            guards, self._guards = self._guards, []
        for guard in guards:
            try:
                guard.wait(GUARD_EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                kill_tree(guard)


def _signal_all(proc: subprocess.Popen[bytes], pids: list[int], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the session leader's group: everything that did not move away
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _all_gone(proc: subprocess.Popen[bytes], pids: list[int]) -> Probe[bool]:
    proc.poll()  # reap the leader, or it stays a zombie and keeps its group alive in /proc
    left = [p for p in (proc.pid, *pids) if is_alive(p)]
    return Probe(not left, True, f"still running: {left}")


def kill_tree(proc: subprocess.Popen[bytes], *, also: Iterable[int] = (), timeout: float = 10.0) -> None:
    """SIGKILL the process, its group, its descendants (and ``also``); wait until they are gone."""
    pids = sorted(set(descendants(proc.pid)) | set(also))
    _signal_all(proc, pids, signal.SIGKILL)
    wait_for(
        lambda: _all_gone(proc, pids),
        what=f"killed process tree of {proc.pid}",
        timeout=timeout,
        interval=0.05,
    )


def kill_pids(pids: Sequence[int], *, what: str, timeout: float = 10.0) -> list[int]:
    """SIGKILL ``pids`` and wait until they are gone; return those still running at the deadline."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)

    def gone() -> Probe[None]:
        left = [p for p in pids if is_alive(p)]
        return Probe(not left, None, f"still running: {left}")

    try:
        wait_for(gone, what=what, timeout=timeout, interval=0.05)
    except WaitTimeout:
        return [p for p in pids if is_alive(p)]
    return []


def terminate_tree(proc: subprocess.Popen[bytes], *, grace: float) -> None:
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
