"""What a container of the process runtime may see and write of the host: a bubblewrap sandbox.

The runtime's containers run as the emulator's uid. When that uid is root (most CI containers, these
machines), owner permission bits let a container rewrite whatever root owns: the watchdog that the
runtime executes again, with every capability, at the container's next restart; the emulator's own
sources; the standard library; other containers' files. Dropped capabilities do not change that. So
every container runs inside ``bwrap`` (Debian's ``bubblewrap``, the sandbox Flatpak uses), started by its
watchdog (``watchdog.py``), with:

- the host's file system **read-only** (``--ro-bind / /``): nothing the emulator or another container
  executes or reads can be changed;
- **hidden** behind empty tmpfs mounts of its own: ``/tmp``, ``/var/tmp`` and ``/run`` (the Docker
  socket, other programs' sockets), the temporary directory (other emulators' state, the runtime's
  socket folders), the emulator user's home (a ``connections.toml`` holding the admin password) and
  the emulator's state directory (other containers' secrets, volumes, stages, logs). What the
  container needs from them comes back read-only: the Python installation and ``sys.path`` (the
  project's package, site-packages), the unpacked Milvus binaries;
- **writable**: its own directory (working directory, home, tmp, secrets), its socket folder and its
  volumes, at their host paths (the runtime, the ingress and the readiness probes use the same paths);
- its own user namespace (uid 0 maps to the emulator's uid, so files it writes stay the emulator's;
  no capability on anything of the host), its own pid namespace and ``/proc`` (it sees no other
  process: not the emulator, not another container, not its watchdog), its own IPC namespace,
  ``no_new_privs`` and every capability dropped, bounding set included.

The network is the watchdog's (the host's, or the container's own namespace: ``netns.py``).

Where bubblewrap is missing or the kernel refuses it, :func:`problem` says why. The runtime then
refuses to start containers when the emulator runs as root, and runs them unconfined (with a notice in
the container's log) when it does not: an unprivileged emulator's containers can write only what that
user owns (``docs/security.md``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Confinement", "for_container", "problem", "required"]

INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap; scripts/install.sh does)"
PROBE_TIMEOUT = 30.0
# Empty and private in every container, as in an image's: the host's copies hold other processes'
# sockets (/run/docker.sock would be root on the host) and temporary files.
CONTAINER_OWN = (Path("/tmp"), Path("/var/tmp"), Path("/run"), Path("/var/run"))


@functools.cache
def bwrap() -> str | None:
    """The bubblewrap executable, or None."""
    return shutil.which("bwrap")


def _base_options() -> list[str]:
    return [
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--die-with-parent",
        "--cap-drop",
        "ALL",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]


@functools.cache
def problem() -> str | None:
    """None when containers can be confined here, else why not (asked once, in a throwaway process)."""
    executable = bwrap()
    if executable is None:
        return f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    true = shutil.which("true") or "/bin/true"
    try:
        done = subprocess.run(
            [executable, *_base_options(), "--", true],
            env={},
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return f"bubblewrap could not be started: {type(exc).__name__}: {exc}"
    if done.returncode == 0:
        return None
    reason = (done.stderr.strip() or f"exit code {done.returncode}").splitlines()[-1]
    return f"bubblewrap cannot make a sandbox here: {reason}"


def required() -> bool:
    """Confinement is not optional for a root emulator: owner bits would give containers the host."""
    return os.geteuid() == 0


def _depth(path: Path) -> int:
    return len(path.parts)


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """The paths not below another of them, shallowest first."""
    unique = sorted(set(paths), key=lambda p: (_depth(p), str(p)))
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return kept


@dataclass(frozen=True)
class Confinement:
    """The sandbox of one container: what is hidden, what comes back read-only, what is writable."""

    hidden: tuple[Path, ...]
    readable: tuple[Path, ...]
    writable: tuple[Path, ...]

    def argv(self, executable: str) -> list[str]:
        """``bwrap`` and its options, to be followed by ``--`` and the container's command."""
        options = [executable, *_base_options()]
        for path in _outermost(self.hidden):
            options += ["--tmpfs", str(path)]
        for path in _outermost(p for p in self.readable if self._under_hidden(p)):
            options += ["--ro-bind", str(path), str(path)]
        for path in sorted(set(self.writable), key=_depth):
            options += ["--bind", str(path), str(path)]
        return options

    def _under_hidden(self, path: Path) -> bool:
        return any(path.is_relative_to(hidden) for hidden in self.hidden)


def _python_paths() -> list[Path]:
    """What a Python process of this installation reads: its prefixes and every ``sys.path`` entry."""
    entries = [sys.prefix, sys.base_prefix, sys.exec_prefix, *(p for p in sys.path if p)]
    return [Path(p).resolve() for p in entries if os.path.isdir(p)]


def _real(paths: Iterable[Path]) -> list[Path]:
    return [Path(os.path.realpath(p)) for p in paths if os.path.lexists(p)]


def for_container(
    *,
    writable: Iterable[Path],
    private: Iterable[Path],
    readable: Iterable[Path] = (),
) -> Confinement:
    """The sandbox of a container that may write ``writable`` (its own directories and volumes).

    ``private``: the emulator's own directories (its state directory, the runtime's), hidden with the
    temporary directory and the user's home. ``readable``: what the container needs of them (the
    unpacked Milvus binaries); the Python installation is always readable.
    """
    # Never "/" (HOME=/ in some CI images): hiding it would hide everything.
    hidden = [
        p
        for p in _real([*CONTAINER_OWN, Path(tempfile.gettempdir()), Path.home(), *private])
        if _depth(p) > 1
    ]
    return Confinement(
        hidden=tuple(hidden),
        readable=tuple(_real([*_python_paths(), *readable])),
        writable=tuple(_real(writable)),
    )
