"""Background kernel shutdowns: the caller goes on at once, and a later wait sees each one end or fail."""

from __future__ import annotations

import http.server
import threading
from typing import Any, cast

import aiohttp
import pytest

from milvus_spcs.jupyter_client import BackgroundShutdowns, JupyterOverIngress, KernelError


class SlowJupyter:
    """Stands in for JupyterOverIngress: its shutdown waits for ``release``, then fails or not."""

    def __init__(self, *, fail: bool = False) -> None:
        self.release = threading.Event()
        self.fail = fail
        self.shut_down: list[str] = []

    def shutdown_kernel(self, kernel: str) -> None:
        assert self.release.wait(10)
        if self.fail:
            raise ConnectionError("the server closed the connection")
        self.shut_down.append(kernel)


def as_jupyter(fake: SlowJupyter) -> JupyterOverIngress:
    return cast(Any, fake)


def test_the_caller_goes_on_while_the_kernel_exits_and_the_wait_sees_it_end() -> None:
    shutdowns, jupyter = BackgroundShutdowns(), SlowJupyter()
    shutdowns.start(as_jupyter(jupyter), "k1")  # returns although the shutdown is still blocked
    assert jupyter.shut_down == []
    threading.Timer(0.2, jupyter.release.set).start()
    shutdowns.wait(timeout=10)
    assert jupyter.shut_down == ["k1"]


def test_a_failed_shutdown_is_raised_by_the_wait_with_its_kernel() -> None:
    shutdowns, jupyter = BackgroundShutdowns(), SlowJupyter(fail=True)
    jupyter.release.set()
    shutdowns.start(as_jupyter(jupyter), "k2")
    with pytest.raises(KernelError, match="kernel k2: ConnectionError"):
        shutdowns.wait(timeout=10)
    shutdowns.wait(timeout=10)  # reported once


def test_a_shutdown_that_does_not_end_in_time_is_named() -> None:
    shutdowns, jupyter = BackgroundShutdowns(), SlowJupyter()
    shutdowns.start(as_jupyter(jupyter), "k3abcdefgh")
    try:
        with pytest.raises(KernelError, match="kernel-shutdown-k3abcdef: still running after 0 s"):
            shutdowns.wait(timeout=0.2)
    finally:
        jupyter.release.set()


class RefusingJupyter(http.server.BaseHTTPRequestHandler):
    """Answers DELETE /api/kernels/<id>: 404 for the kernel "gone", 403 for any other."""

    def do_DELETE(self) -> None:
        self.send_response(404 if self.path.endswith("/gone") else 403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_refused_shutdown_raises_and_a_kernel_already_gone_does_not() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingJupyter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        jupyter = JupyterOverIngress(f"http://127.0.0.1:{server.server_address[1]}", "token")
        jupyter.shutdown_kernel("gone")
        with pytest.raises(aiohttp.ClientResponseError, match="403"):
            jupyter.shutdown_kernel("k1")
    finally:
        server.shutdown()
        server.server_close()
