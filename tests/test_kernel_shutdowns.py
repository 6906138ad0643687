"""Background kernel shutdowns: the caller goes on at once, and a later wait sees each one end or fail."""

from __future__ import annotations

import threading
from typing import Any, cast

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
