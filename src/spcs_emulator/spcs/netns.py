"""A private network namespace for a container, and the forwarder that is its only way in.

Standard library only: the watchdog (``watchdog.py``, run as ``python -I -S``) loads this file by path.

Milvus 2.3.5 listens on ``[::]`` for every server it runs (no setting changes it), which would expose
its metrics/health port to other hosts and make two Milvus containers on one host clash. So the
watchdog of such a container (see ``RunPlan.isolate_network``):

1. receives listening sockets the runtime bound on the service's own address in the host's namespace
   (``<service ip>:<port>`` for each forwarded port; a clash there fails the container at once);
2. moves itself into a new network namespace (:func:`isolate`): ``unshare(CLONE_NEWNET)`` as root,
   else ``CLONE_NEWUSER | CLONE_NEWNET`` with the caller's uid and gid mapped to themselves, then
   brings ``lo`` up; the container's command, started afterwards, inherits the namespace, so
   whatever it listens on is reachable only from inside;
3. forwards every connection accepted on those sockets to ``127.0.0.1:<port>`` inside
   (:class:`Forwarder`; sockets keep the namespace they were created in, so the listening sockets stay
   in the host's and the ones it connects are inside). When nothing listens inside, the accepted
   connection is reset at once: an open forwarder port never answers for the container.

``python -I -S netns.py probe`` tells whether this host lets us do step 2 (exit 0), or why not
(exit 1 and a one-line reason on stdout); the runtime asks once and otherwise falls back.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import socket
import struct
import sys
import threading

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
INSIDE = "127.0.0.1"
CONNECT_TIMEOUT = 5.0  # seconds to reach the port inside before the accepted connection is reset
CHUNK = 1 << 16


def _unshare(flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare: {os.strerror(errno)}")


def _map_ids_to_themselves(uid: int, gid: int) -> None:
    """In a new user namespace: the caller keeps its uid and gid (files stay its own)."""
    with open("/proc/self/setgroups", "w") as fh:  # required before an unprivileged gid_map
        fh.write("deny")
    with open("/proc/self/uid_map", "w") as fh:
        fh.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as fh:
        fh.write(f"{gid} {gid} 1")


def bring_loopback_up() -> None:
    """``ip link set lo up`` in the current namespace (a new one starts with ``lo`` down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))


def isolate() -> str:
    """Move the calling process (it must be single-threaded) into a new network namespace with ``lo``
    up; returns how ("network namespace" or "user and network namespace"). Raises OSError if the host
    permits neither."""
    uid, gid = os.getuid(), os.getgid()
    try:
        _unshare(CLONE_NEWNET)
        how = "network namespace"
    except PermissionError:
        _unshare(CLONE_NEWUSER | CLONE_NEWNET)  # an unprivileged user may own a user namespace
        _map_ids_to_themselves(uid, gid)
        how = "user and network namespace"
    bring_loopback_up()
    return how


class _Pair:
    """Two connected sockets: when either side ends (EOF or error), both are shut down and closed."""

    def __init__(self, outside: socket.socket, inside: socket.socket) -> None:
        self.sockets = (outside, inside)
        self._lock = threading.Lock()
        self._running = 2

    def pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._end()

    def _end(self) -> None:
        for sock in self.sockets:  # wakes the other pump (its recv returns)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if last:  # closed only once no thread uses them (a closed fd number may be reused at once)
            for sock in self.sockets:
                sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST: the client sees the connection refused-like error, never an empty answer."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Forwarder:
    """Accepts on listening sockets of the host's namespace, connects to ``127.0.0.1:<port>`` in the
    namespace of the thread that called :meth:`start` (threads inherit it), and copies bytes both ways."""

    def __init__(self, listeners: list[tuple[socket.socket, int]]) -> None:
        self.listeners = listeners  # (listening socket, port inside)

    def start(self) -> None:
        for listener, port in self.listeners:
            threading.Thread(target=self._accept, args=(listener, port), daemon=True).start()

    def _accept(self, listener: socket.socket, port: int) -> None:
        while True:
            try:
                outside, _ = listener.accept()
            except ConnectionAbortedError:  # the client gave up before accept(): the next one
                continue
            except OSError:
                return
            threading.Thread(target=self._connect, args=(outside, port), daemon=True).start()

    def _connect(self, outside: socket.socket, port: int) -> None:
        try:
            inside = socket.create_connection((INSIDE, port), timeout=CONNECT_TIMEOUT)
        except OSError:
            _reset(outside)  # nothing listens inside (yet): the connection fails, as a closed port does
            return
        inside.settimeout(None)
        for sock in (outside, inside):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # gRPC: small frames
        pair = _Pair(outside, inside)
        threading.Thread(target=pair.pump, args=(inside, outside), daemon=True).start()
        pair.pump(outside, inside)


def listeners_from_fds(forwards: list[list[int]]) -> list[tuple[socket.socket, int]]:
    """``[[fd, port], ...]`` inherited from the runtime -> listening sockets the container never sees."""
    found = []
    for fd, port in forwards:
        os.set_inheritable(fd, False)  # the container's processes must not hold the host-side sockets
        found.append((socket.socket(fileno=fd), port))
    return found


def probe() -> int:
    """Exit 0 when :func:`isolate` works on this host, else 1 with the reason on stdout."""
    try:
        how = isolate()
    except OSError as exc:
        print(f"{exc}")
        return 1
    print(how)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["probe"]:
        raise SystemExit("usage: netns.py probe")
    sys.exit(probe())
