"""A TCP relay: listen on one address, join each connection to another (threads, standard library).

The docker runtime's containers sit on an internal network with no published port; a relay on the
service's own loopback address (``127.0.0.x:<endpoint port>``) makes them answer where the process
runtime's would, so the ingress, the readiness probes and the harness see no difference. The target is
asked per connection: a restarted container may come back with another address.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

BUFFER = 1 << 16
CONNECT_TIMEOUT = 5.0


class Relay:
    def __init__(self, listen: tuple[str, int], target: Callable[[], tuple[str, int] | None]) -> None:
        self.listen = listen
        self._target = target
        self._server: socket.socket | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False

    def start(self) -> Relay:
        """Bind now (a clash raises OSError at once, naming nothing: the caller names the address)."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(self.listen)
            server.listen(64)
        except OSError:
            server.close()
            raise
        self._server = server
        threading.Thread(
            target=self._accept, name=f"relay-{self.listen[0]}:{self.listen[1]}", daemon=True
        ).start()
        return self

    def _accept(self) -> None:
        server = self._server
        assert server is not None
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._join, args=(client,), daemon=True).start()

    def _track(self, *socks: socket.socket) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._open.update(socks)
            return True

    def _join(self, client: socket.socket) -> None:
        target = self._target()
        upstream = None
        if target is not None:
            try:
                upstream = socket.create_connection(target, timeout=CONNECT_TIMEOUT)
                upstream.settimeout(None)
            except OSError:
                upstream = None
        if upstream is None or not self._track(client, upstream):
            # Nothing answers inside: reset, as a closed port would.
            with contextlib.suppress(OSError):
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            client.close()
            if upstream is not None:
                upstream.close()
            return
        pump = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        pump.start()
        self._pump(client, upstream)
        pump.join()
        with self._lock:
            self._open.difference_update((client, upstream))
        client.close()
        upstream.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(BUFFER):
                sink.sendall(chunk)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            open_, self._open = self._open, set()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        for sock in open_:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
