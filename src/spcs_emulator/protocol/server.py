"""Run an aiohttp application on a background thread with its own event loop.

Tests and the CLI talk to the emulator with blocking clients (the connector, ``snow``), so the server
cannot share their thread. The same loop later hosts the ingress proxies: :meth:`run_coroutine` and
:meth:`on_stop` let them start there and shut down with the server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from spcs_emulator.protocol.client_limits import ClientLimits, deadlines, serve

log = logging.getLogger(__name__)

T = TypeVar("T")
AppSource = web.Application | Callable[[], web.Application]


class ProtocolServer:
    """``start()`` binds (port 0 picks a free port) and returns once the server accepts connections.

    ``limits`` bound its clients (deadlines for request heads and bodies, connections per address);
    it may be replaced until ``start()``.
    """

    def __init__(
        self,
        app: AppSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        name: str = "spcs-emulator-protocol",
        limits: ClientLimits | None = None,
    ) -> None:
        self._app_source = app
        self.limits = limits or ClientLimits()
        self.host = host
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._shutdown_timeout = shutdown_timeout
        self._name = name
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._stop_callbacks: list[Callable[[], Awaitable[None]]] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> ProtocolServer:
        if self._thread is not None:
            raise RuntimeError(f"{self._name} was already started")
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(self._startup_timeout):
            self.stop()
            raise TimeoutError(f"{self._name} did not start listening within {self._startup_timeout} s")
        if self._startup_error is not None:
            self._thread.join(self._shutdown_timeout)
            raise RuntimeError(
                f"{self._name} failed to start: {self._startup_error}"
            ) from self._startup_error
        log.debug("%s listening on %s", self._name, self.url)
        return self

    def stop(self) -> None:
        """Stop serving, run the on_stop callbacks, cancel leftover tasks and join the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or not thread.is_alive() or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(self._shutdown_timeout)
        if thread.is_alive():
            raise TimeoutError(f"{self._name} did not shut down within {self._shutdown_timeout} s")
        log.debug("%s stopped", self._name)

    def __enter__(self) -> ProtocolServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what callers need -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self._name} is not listening")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or not self._ready.is_set():
            raise RuntimeError(f"{self._name} is not running")
        return self._loop

    def run_coroutine(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the server's loop (e.g. start an ingress proxy); thread-safe."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await ``callback`` on the loop at shutdown, before leftover tasks are cancelled."""
        self._stop_callbacks.append(callback)

    # -- the thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:
                self._startup_error = exc
                self._ready.set()
                return
            loop.call_soon(self._ready.set)  # set from inside the running loop: requests are served
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(self._teardown())
            finally:
                loop.close()

    async def _serve(self) -> None:
        app = self._app_source if isinstance(self._app_source, web.Application) else self._app_source()
        app.middlewares.insert(0, deadlines(self.limits))  # outermost: it sees every request first
        # No access log: stage upload URLs carry a capability; the app logs requests itself.
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=2.0, **self.limits.runner_kwargs()
        )
        await self._runner.setup()
        self._listener = await serve(self._runner, self.limits, host=self.host, port=self._requested_port)
        self._port = int(self._listener.sockets[0].getsockname()[1])

    async def _teardown(self) -> None:
        for callback in reversed(self._stop_callbacks):
            try:
                await callback()
            except Exception:
                log.warning("%s: an on_stop callback failed", self._name, exc_info=True)
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)
        await asyncio.get_running_loop().shutdown_asyncgens()
