"""Which TCP listeners belong to a container, and whether something else holds a container's port.

A readiness probe that only connects to ``ip:port`` accepts any process listening there: another
emulator's service, a leftover of an earlier run. So the runtime asks the kernel (through psutil, which
maps listening socket inodes in /proc/net/tcp{,6} to the file descriptors of /proc/<pid>/fd) who owns
each listener, and counts only those of the container's own process tree.

A container in a network namespace of its own (``netns``) has its listeners there, invisible in this
namespace's tables: :func:`listeners_inside` reads them from that namespace's table
(``/proc/<pid>/net/tcp{,6}`` of one of its processes). Its ports on the host are the forwarder's
sockets, bound here by :func:`bind_forwarded` before the container starts.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from psutil._ntuples import pconn, sconn

WILDCARDS = frozenset({"0.0.0.0", "::"})
TCP_LISTEN = "0A"  # the state column of /proc/net/tcp


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


def _listening(connections: Iterable[sconn | pconn]) -> set[Listener]:
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


def bind_forwarded(ip: str, ports: Iterable[int]) -> list[tuple[socket.socket, int]]:
    """Listening sockets on ``ip:<port>`` in this namespace, one per port (for a namespaced container's
    forwarder); a port that cannot be bound raises RuntimeError naming the address and port."""
    bound: list[tuple[socket.socket, int]] = []
    try:
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            bound.append((sock, port))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is free
            try:
                sock.bind((ip, port))
            except OSError as exc:
                raise RuntimeError(f"address {ip}:{port} is already in use: {exc.strerror}") from None
            sock.listen(128)
    except BaseException:
        for sock, _ in bound:
            sock.close()
        raise
    return bound


def _net_namespace(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _decode(address: str, family: socket.AddressFamily) -> tuple[str, int]:
    """``0100007F:0CEA`` -> ("127.0.0.1", 3306): 32-bit words in host byte order, the port in hex."""
    host, port = address.split(":")
    words = b"".join(struct.pack("=I", int(host[i : i + 8], 16)) for i in range(0, len(host), 8))
    return _normalised(socket.inet_ntop(family, words)), int(port, 16)


def _table_listeners(pid: int, inodes: set[str]) -> set[Listener]:
    found: set[Listener] = set()
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open(f"/proc/{pid}/net/{name}", encoding="ascii") as table:
                lines = table.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == TCP_LISTEN and fields[9] in inodes:
                found.add(Listener(*_decode(fields[1], family)))
    return found


def listeners_inside(pids: Iterable[int]) -> set[Listener]:
    """The TCP listening sockets of ``pids`` in network namespaces other than this process's own."""
    own = _net_namespace("self")
    namespaces: dict[str, list[int]] = {}
    for pid in pids:
        namespace = _net_namespace(pid)
        if namespace is not None and namespace != own:
            namespaces.setdefault(namespace, []).append(pid)
    found: set[Listener] = set()
    for members in namespaces.values():
        inodes = set().union(*(_socket_inodes(pid) for pid in members))
        for pid in members:  # the first one still running has the namespace's table
            if os.path.exists(f"/proc/{pid}/net/tcp"):
                found |= _table_listeners(pid, inodes)
                break
    return found
