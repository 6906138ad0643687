"""The watchdog every emulated container runs under: its processes die with the emulator, however it dies.

Why a watchdog process, and not a parent-death signal: ``prctl(PR_SET_PDEATHSIG)`` fires when the
*thread* that forked the child exits (containers are started from supervisor threads, which come and
go), and it reaches only that one child: a Jupyter kernel in a session of its own never gets it. So
every container runs as ``python watchdog.py run <fd>`` -> the container's main process:

- **Lifeline.** The runtime holds the write end of a pipe (``processes.Lifeline``); each watchdog
  inherits only the read end (``<fd>``). Nothing ever writes to it: when the emulator is gone (exit,
  crash, SIGKILL, OOM kill) the kernel closes the write end and the read end sees EOF. No polling of
  pids, no race with pid reuse, no dependence on which thread started the container.
- **Subreaper.** The watchdog calls ``prctl(PR_SET_CHILD_SUBREAPER)``, so every orphaned descendant
  (a kernel whose server died, a daemon that double-forked) is re-parented to the watchdog instead of
  init: the whole tree is always below the watchdog and found by walking /proc parent links.
- **On EOF** it sends SIGTERM to every descendant, waits ``SHUTDOWN_GRACE`` seconds, SIGKILLs what is
  left and reaps it, removes the container's private directory (its secrets with it) and its own
  record in the state directory, then exits. **When the main process exits** it kills what the main process left
  behind (as a container's end does) and exits with the main process's code (128 + signal when it was
  killed), so the runtime sees the container's own exit code. After SIGTERM (the runtime stopping the
  container signals every process itself) the remaining processes get their grace from the runtime.

The watchdog is the session and process-group leader of the container (the runtime starts it with
``start_new_session``); the main process stays in that group, so ``killpg`` still reaches it. The
container's command and environment arrive as JSON on stdin (never in argv, where ``ps`` shows them);
the watchdog itself runs with an empty environment (``python -I -S``, standard library only, so it can
run as a plain script), and hands the container /dev/null as stdin and its own stdout/stderr.

**Network isolation** (the request's ``network``, for runtime kinds whose software listens on every
address: ``RunPlan.isolate_network``): before the command starts, the watchdog moves itself into a new
network namespace with ``lo`` up (``netns.py``, loaded from this file's directory), so the command
inherits a namespace of its own; the listening sockets the runtime bound on the service's address in
the host's namespace arrive as inherited descriptors, and a forwarder (threads of the watchdog,
started after the command) connects each accepted connection to ``127.0.0.1:<port>`` inside. The
container never holds those sockets. If the namespace cannot be made, the container fails at once
(exit ``NETWORK_FAILED``, the reason on stderr): the runtime asked because its probe said it works.

``guard <fd> <dir>`` mode waits for the same EOF and then removes ``<dir>`` (an emulator's temporary
state directory), retrying while dying containers may still write into it. ``docker-reap <fd> <docker>
<label>`` waits for it too, then removes the Docker containers and networks carrying ``<label>`` (the
docker runtime's: they are the engine's children, not the emulator's, so no signal reaches them).

What it cannot catch: a SIGKILL of the watchdog itself together with the emulator (``kill -9 -1``, a
cgroup kill). For that the emulator keeps a record of every watchdog in its state directory and a new
emulator on the same directory reaps what is left (``spcs_emulator.spcs.leftovers``).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import types
from typing import Any

PROC = "/proc"
PR_SET_CHILD_SUBREAPER = 36
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 38, 47, 4
CAP_LAST_POSSIBLE = 63
SHUTDOWN_GRACE = 3.0  # seconds the container gets to exit on SIGTERM once the emulator is gone
KILL_DEADLINE = 10.0  # seconds to wait for SIGKILLed processes to be reaped
GUARD_DEADLINE = 30.0  # seconds a guard keeps retrying to remove its directory
EXEC_FAILED = 127  # the exit code of a command that could not be started, as a shell reports it
NETWORK_FAILED = 126  # the container's network namespace could not be made


# -- /proc (shared with processes.py; standard library only) ---------------------------------------


def stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session, ... starttime."""
    try:
        with open(f"{PROC}/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rfind(")") + 2 :].split()


def is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie only waits to be reaped)."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot): with the pid, it names one process for good."""
    fields = stat_fields(pid)
    return None if fields is None else int(fields[19])


def process_table() -> dict[int, list[str]]:
    """pid -> stat fields of every process, from one /proc scan."""
    table: dict[int, list[str]] = {}
    for name in os.listdir(PROC):
        if name.isdigit():
            fields = stat_fields(int(name))
            if fields is not None:
                table[int(name)] = fields
    return table


def descendants_in(table: dict[int, list[str]], roots: list[int]) -> list[int]:
    """Every process below ``roots`` in ``table`` (first-level children first)."""
    children: dict[int, list[int]] = {}
    for pid, fields in table.items():
        children.setdefault(int(fields[1]), []).append(pid)
    found: list[int] = []
    seen = set(roots)
    frontier = list(roots)
    while frontier:
        frontier = [c for p in frontier for c in children.get(p, []) if c not in seen]
        seen.update(frontier)
        found.extend(frontier)
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (zombies included), from one /proc scan."""
    return descendants_in(process_table(), [pid])


# -- the watchdog ----------------------------------------------------------------------------------


def _become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _drop_capabilities_of_children() -> None:
    """What the container execs gets no capability, ever: the bounding and ambient sets are emptied
    and no_new_privs set (both inherited), so even as root (the emulator's uid here) it has no
    CAP_SYS_PTRACE to read the non-dumpable emulator's memory or environment (its admin password),
    no CAP_DAC_OVERRIDE, no CAP_SYS_ADMIN. The watchdog keeps its own effective set (it may still
    need to enter a network namespace). Without CAP_SETPCAP (not root) there is nothing to drop."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in range(CAP_LAST_POSSIBLE + 1):
        libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)  # EINVAL past the kernel's last: ignored
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _set_no_new_privs()


def _set_no_new_privs() -> None:
    """No exec below the watchdog gains a privilege (setuid bits and file capabilities are ignored)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")


class Watchdog:
    def __init__(self, lifeline: int) -> None:
        self.lifeline = lifeline
        os.set_inheritable(lifeline, False)  # the container must not hold it
        self.terminating = False
        self.lifeline_broken = False
        self.main_status: int | None = None
        self.main_pid = 0
        # SIGCHLD (and SIGTERM) wake the select() through this pipe; handlers do nothing else.
        self.wake, wake_w = os.pipe()
        os.set_blocking(self.wake, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        # Python handlers, not SIG_IGN: ignored signals would stay ignored in the container after exec.
        signal.signal(signal.SIGTERM, self._on_terminate)
        signal.signal(signal.SIGINT, self._on_terminate)
        signal.signal(signal.SIGHUP, self._on_terminate)

    def _on_terminate(self, *_: object) -> None:
        self.terminating = True

    def spawn(self, argv: list[str], env: dict[str, str], sandbox: list[str] | None = None) -> bool:
        """Start ``argv``; inside ``sandbox`` (bubblewrap and its options: ``confinement.py``) when given.

        bwrap needs the watchdog's capabilities to build the sandbox (as root it maps uid 0 into its
        user namespace) and drops every one of them, bounding set included, before the command runs;
        without a sandbox the watchdog drops them itself."""
        if sandbox:
            _set_no_new_privs()
            argv = [*sandbox, "--", *argv]
        else:
            _drop_capabilities_of_children()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        try:
            # setsigdef: Python ignores SIGPIPE and SIGXFSZ; the container must see the defaults.
            self.main_pid = os.posix_spawnp(argv[0], argv, env, setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
        except OSError as exc:
            os.write(2, f"watchdog: cannot start {argv[0]}: {exc}\n".encode())
            return False
        return True

    def _reap(self) -> bool:
        """Collect every exited child (the main process's status is kept); False once none is left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.main_pid:
                self.main_status = status

    def _wait_event(self, timeout: float) -> bool:
        """Wait for a signal or the lifeline; True once the lifeline broke (the emulator is gone)."""
        # A broken lifeline stays readable (EOF): watching it further would turn waits into a spin.
        watched = [self.wake] if self.lifeline_broken else [self.lifeline, self.wake]
        readable, _, _ = select.select(watched, [], [], timeout)
        if self.wake in readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(self.wake, 512):
                    pass
        if self.lifeline in readable and os.read(self.lifeline, 1) == b"":
            self.lifeline_broken = True
        return self.lifeline_broken

    def _signal_tree(self, sig: signal.Signals) -> list[int]:
        table = process_table()
        live = [p for p in descendants_in(table, [os.getpid()]) if table[p][0] not in ("Z", "X")]
        for pid in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        return live

    def _end_tree(self, grace: float) -> None:
        """SIGTERM (when ``grace``), then SIGKILL every descendant; return once all are reaped."""
        if grace > 0 and self._signal_tree(signal.SIGTERM):
            deadline = time.monotonic() + grace
            while self._reap() and time.monotonic() < deadline:
                self._wait_event(min(0.1, max(deadline - time.monotonic(), 0)))
        deadline = time.monotonic() + KILL_DEADLINE
        while self._reap() and time.monotonic() < deadline:
            self._signal_tree(signal.SIGKILL)
            self._wait_event(0.05)

    def supervise(self) -> int:
        while self.main_status is None and not self.lifeline_broken and self._reap():
            if self.main_status is None:
                self._wait_event(1.0)
        # After a stop request the runtime gives the rest its grace (it signals them itself); the
        # lifeline still ends them at once should the emulator die meanwhile.
        while self.terminating and not self.lifeline_broken and self._reap() and self._tree_running():
            self._wait_event(0.1)
        self._end_tree(SHUTDOWN_GRACE if self.lifeline_broken else 0)
        return exit_code(self.main_status)

    def _tree_running(self) -> bool:
        """True while some descendant still runs."""
        table = process_table()
        return any(table[p][0] not in ("Z", "X") for p in descendants_in(table, [os.getpid()]))


def exit_code(status: int | None) -> int:
    if status is None:
        return EXEC_FAILED
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def _clean_up_after(request: dict[str, Any]) -> None:
    """The emulator is gone: nobody else will remove the container's directory or this record."""
    if request.get("root"):
        shutil.rmtree(request["root"], ignore_errors=True)
    if request.get("record_dir"):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(request["record_dir"], f"{os.getpid()}.json"))


def _netns_module() -> types.ModuleType:
    """``netns.py`` loaded by path: ``-I`` keeps this file's directory off sys.path."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netns.py")
    spec = importlib.util.spec_from_file_location("spcs_watchdog_netns", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(lifeline: int) -> int:
    request = json.loads(sys.stdin.buffer.read())
    watchdog = Watchdog(lifeline)
    _become_subreaper()
    forwarder = None
    if request.get("network") is not None:
        netns = _netns_module()
        listeners = netns.listeners_from_fds(request["network"]["forwards"])
        try:
            netns.isolate()  # still single-threaded, as a new user namespace requires
        except OSError as exc:
            os.write(2, f"watchdog: cannot give the container a network namespace: {exc}\n".encode())
            return NETWORK_FAILED
        forwarder = netns.Forwarder(listeners)
    if not watchdog.spawn(list(request["argv"]), dict(request["env"]), request.get("sandbox")):
        return EXEC_FAILED
    if forwarder is not None:
        forwarder.start()  # after the spawn: no thread runs while the command is started
    code = watchdog.supervise()
    if watchdog.lifeline_broken:
        _clean_up_after(request)
    return code


def guard(lifeline: int, directory: str) -> int:
    """Wait until the emulator is gone, then remove its temporary directory."""
    while os.read(lifeline, 1):
        pass
    deadline = time.monotonic() + GUARD_DEADLINE
    while os.path.lexists(directory) and time.monotonic() < deadline:
        shutil.rmtree(directory, ignore_errors=True)  # dying containers may still write: retry
        select.select([], [], [], 0.1)
    return 0


def docker_reap(lifeline: int, docker: str, label: str, image_prefix: str = "") -> int:
    """Wait until the emulator is gone, then remove its Docker containers and networks (by label) and
    untag the images it pulled from its registry (references starting with ``image_prefix``)."""
    while os.read(lifeline, 1):
        pass

    def ids(*listing: str) -> list[str]:
        found = subprocess.run(
            [docker, *listing, "-q", "--filter", f"label={label}"], capture_output=True, text=True
        )
        return found.stdout.split()

    containers = ids("ps", "-a")
    if containers:
        subprocess.run([docker, "rm", "--force", "--volumes", *containers], capture_output=True)
    networks = ids("network", "ls")
    if networks:
        subprocess.run([docker, "network", "rm", *networks], capture_output=True)
    listing = [docker, "images", "--digests", "--format", "{{.Repository}}@{{.Digest}}"]
    deadline = time.monotonic() + GUARD_DEADLINE
    while image_prefix and time.monotonic() < deadline:
        listed = subprocess.run(listing, capture_output=True, text=True).stdout.split()
        pulled = [ref for ref in listed if ref.startswith(image_prefix) and "@sha256:" in ref]
        if not pulled:
            break
        # A container the other reaper is still removing holds its image: retry until it is gone.
        subprocess.run([docker, "rmi", *pulled], capture_output=True)
        select.select([], [], [], 0.2)
    return 0


def main(argv: list[str]) -> int:
    mode, lifeline = argv[0], int(argv[1])
    if mode == "run":
        return run(lifeline)
    if mode == "guard":
        return guard(lifeline, argv[2])
    if mode == "docker-reap":
        return docker_reap(lifeline, argv[2], argv[3], *argv[4:5])
    raise SystemExit(f"watchdog: unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
