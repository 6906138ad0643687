"""The interface every local Milvus backend implements, and the readiness check they share."""

from __future__ import annotations

import abc
import contextlib
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from milvus_spcs.errors import HarnessError
from milvus_spcs.waits import Probe, wait_for

READY_TIMEOUT = 120.0
STOP_GRACE_SECONDS = 5.0


def ephemeral_ports(count: int) -> list[int]:
    """``count`` distinct ports free on loopback now, chosen by the kernel (from its ephemeral range);
    held together while chosen, so no two are the same."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def stop_process(proc: subprocess.Popen[bytes] | None, *, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM a process this machine started for a backend, SIGKILL it if ``grace`` runs out."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


class BackendUnavailable(HarnessError):
    """The backend cannot run on this machine (e.g. no Docker engine); suites skip with ``reason``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class MilvusBackend(abc.ABC):
    """A Milvus that suites reach by ``uri``. ``start`` returns once a real RPC answers."""

    name: str = ""

    def __init__(self) -> None:
        self._uri: str | None = None

    @property
    def uri(self) -> str:
        if self._uri is None:
            raise HarnessError(f"the {self.name} backend is not started")
        return self._uri

    @abc.abstractmethod
    def _launch(self) -> str:
        """Start whatever serves Milvus and return its URI (not yet ready)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop everything ``start`` started; safe to call twice or after a failed start."""

    def describe(self) -> str:
        return self.name

    def log_path(self) -> Path | None:
        """A log file worth attaching when something fails, if the backend writes one."""
        return None

    def check_alive(self) -> None:
        """Raise if what serves Milvus has died (called while waiting for readiness)."""
        return None

    def start(self, *, ready_timeout: float = READY_TIMEOUT) -> str:
        try:
            uri = self._launch()
            wait_until_serving(uri, timeout=ready_timeout, check_alive=self.check_alive)
        except BaseException:
            self.stop()
            raise
        self._uri = uri
        return uri

    def __enter__(self) -> MilvusBackend:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def wait_until_serving(uri: str, *, timeout: float, check_alive: Callable[[], None] = lambda: None) -> None:
    """Ready means ``list_collections`` answers: a health endpoint can say OK while the proxy cannot."""
    # pymilvus takes half a second to import: not at import of this module, which the harness's
    # configuration (and so every pytest run, SPCS-only ones included) imports for the backend names.
    from pymilvus import MilvusClient, MilvusException

    def probe() -> Probe[None]:
        check_alive()
        client = MilvusClient(uri=uri, timeout=2)
        try:
            client.list_collections()
        finally:
            client.close()
        return Probe(done=True)

    wait_for(
        probe,
        what=f"Milvus at {uri} to answer list_collections",
        timeout=timeout,
        interval=0.5,
        transient=(MilvusException, ConnectionError),
    )
