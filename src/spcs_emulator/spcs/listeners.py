"""Which TCP listeners belong to a container, and whether something else holds a container's port.

A readiness probe that only connects to ``ip:port`` accepts any process listening there: another
emulator's service, a leftover of an earlier run. So the runtime asks the kernel (through psutil, which
maps listening socket inodes in /proc/net/tcp{,6} to the file descriptors of /proc/<pid>/fd) who owns
each listener, and counts only those of the container's own process tree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

WILDCARDS = frozenset({"0.0.0.0", "::"})


@dataclass(frozen=True)
class Listener:
    ip: str  # IPv4 dotted quad, or "0.0.0.0" / "::" for every address
    port: int

    @property
    def is_wildcard(self) -> bool:
        return self.ip in WILDCARDS

    def covers(self, ip: str) -> bool:
        """Whether a connection to ``ip`` on this port reaches this listener's address."""
        return self.is_wildcard or self.ip == ip

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


def _normalised(ip: str) -> str:
    """``::ffff:127.0.0.5`` (an IPv4 address on an IPv6 socket) -> ``127.0.0.5``; others unchanged."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped) if mapped is not None else str(address)


def _listening(connections: Iterable) -> set[Listener]:
    return {
        Listener(_normalised(c.laddr.ip), c.laddr.port)
        for c in connections
        if c.status == psutil.CONN_LISTEN and c.laddr
    }


def listeners_of(pids: Iterable[int]) -> set[Listener]:
    """The TCP listening sockets open in any of ``pids`` (processes that are gone are skipped)."""
    found: set[Listener] = set()
    for pid in pids:
        try:
            found |= _listening(psutil.Process(pid).net_connections(kind="tcp"))
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return found


def all_listeners() -> set[Listener]:
    """Every TCP listening socket of this host's network namespace, whoever owns it."""
    return _listening(psutil.net_connections(kind="tcp"))


def conflicts(
    ports: Iterable[int], bind_ip: str, own: set[Listener], everything: set[Listener]
) -> list[Listener]:
    """Listeners of other processes that stop a run binding ``bind_ip`` on one of ``ports``.

    Two listeners on one port clash when one of them is on every address or both are on the same one.
    ``everything`` must be scanned before ``own`` (a socket the run opens in between is then in
    neither, rather than taken for a stranger's).
    """
    wanted = set(ports)
    wildcard = bind_ip in WILDCARDS
    return sorted(
        (
            listener
            for listener in everything - own
            if listener.port in wanted and (wildcard or listener.covers(bind_ip))
        ),
        key=lambda listener: (listener.port, listener.ip),
    )
