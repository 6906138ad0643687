"""The loopback addresses one emulator instance hands to its services: a /24 of 127.0.0.0/8 of its own.

Every service owns one loopback address (its "pod IP"); its processes listen there on the spec's fixed
ports. Two emulators on one host (two CI runs at once) must therefore never hand out the same address:
each instance claims a block ``127.X.Y.0/24`` (X in 1..254, so 127.0.0.0/16 with ``localhost``,
``127.0.0.53`` and Debian's ``127.0.1.1`` is never used), picked at random, and keeps it for its life:

- a block with any listener on one of its addresses is skipped (something else lives there);
- the claim is an exclusive ``flock`` on ``<tmp>/spcs-address-blocks/127.X.Y.lock``, held open until
  :meth:`AddressBlock.release` (or the process's death: the kernel drops the lock), so two emulators
  starting at the same moment cannot both take a block.

A block has 254 addresses (``.1`` .. ``.254``): that many services can exist at once per emulator.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

from spcs_emulator.spcs.listeners import Listener, all_listeners

LOCK_DIR_NAME = "spcs-address-blocks"
ATTEMPTS = 200


class AddressesExhausted(RuntimeError):
    pass


def lock_dir() -> Path:
    path = Path(tempfile.gettempdir()) / LOCK_DIR_NAME
    path.mkdir(exist_ok=True)
    if path.stat().st_uid == os.getuid():
        # Shared by every user's emulators, like /tmp itself (sticky: no one deletes another's files).
        path.chmod(0o1777)
    return path


class AddressBlock:
    """A claimed ``127.X.Y.0/24``; ``next_free(used)`` gives the lowest address not in ``used``."""

    def __init__(self, network: ipaddress.IPv4Network, lock_fd: int) -> None:
        self.network = network
        self._lock_fd: int | None = lock_fd

    @classmethod
    def claim(
        cls,
        *,
        choose: Callable[[], tuple[int, int]] | None = None,
        listeners: Callable[[], set[Listener]] = all_listeners,
    ) -> AddressBlock:
        rng = random.SystemRandom()
        pick = choose or (lambda: (rng.randint(1, 254), rng.randint(0, 255)))
        taken = listeners()
        for _ in range(ATTEMPTS):
            x, y = pick()
            network = ipaddress.IPv4Network(f"127.{x}.{y}.0/24")
            if any(not lst.is_wildcard and ipaddress.ip_address(lst.ip) in network for lst in taken):
                continue
            fd = _try_lock(lock_dir() / f"127.{x}.{y}.lock")
            if fd is not None:
                return cls(network, fd)
        raise AddressesExhausted(f"no free 127.x.y.0/24 address block after {ATTEMPTS} attempts")

    def next_free(self, used: set[str]) -> str:
        for address in self.network.hosts():
            if str(address) not in used:
                return str(address)
        raise AddressesExhausted(f"every address of {self.network} is in use ({len(used)} services)")

    def release(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing drops the flock

    def __str__(self) -> str:
        return str(self.network)


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd
