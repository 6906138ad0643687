"""Bounds on the clients of every HTTP listener the emulator opens (the SQL endpoint with its control
API, the image registry's front, each ingress route), so that slow or numerous connections cannot take
the process's file descriptors (a slowloris: ~1,100 half-sent requests exhaust a 1024 descriptor limit,
and then every login times out).

- **Request head**: within ``header_seconds`` of the connection's start or of the end of the previous
  request on it; a connection that is idle or half way through a head then is closed. Kept here, not
  left to aiohttp's keep-alive timer: aiohttp starts that timer at connect only since recently
  (aio-libs/aiohttp#13681); before, a connection that never finished its first head was held for ever.
- **Body**: the server waits for it at most ``body_seconds`` plus one second per ``body_min_rate`` bytes
  that arrived (Apache mod_reqtimeout's rule: a steady upload of any size passes, a trickle does not).
  Time in which the server itself is not reading (back-pressure) does not count. Late: 408, closed.
- **Connections**: at most ``per_peer`` open from one address and ``total`` in all, counted over every
  listener of the process (they share its descriptors). One over is answered 503 and closed at once,
  never read: it holds nothing.

The bounds are the emulator's own (Snowflake documents none); the defaults are far above what a
client of the emulator (the connector, ``snow``, Docker, a browser) needs.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 33\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n\r\n"
    b"Too many connections from here.\r\n"
)


@dataclass(frozen=True)
class ClientLimits:
    header_seconds: float = 20.0
    body_seconds: float = 20.0
    body_min_rate: float = 8 * 1024  # bytes per second
    per_peer: int = 256
    total: int | None = None  # None: a quarter of the process's descriptor limit (an ingress uses two each)

    def __post_init__(self) -> None:
        if min(self.header_seconds, self.body_seconds, self.body_min_rate) <= 0:
            raise ValueError("the deadlines and the minimum rate must be positive")
        if self.per_peer < 1 or (self.total is not None and self.total < 1):
            raise ValueError("the connection caps must be at least 1")

    def runner_kwargs(self) -> dict[str, Any]:
        """What ``web.AppRunner`` passes to each connection's handler: aiohttp's keep-alive timer gets the
        head deadline too, and an answered request's unread body is drained at most this long."""
        return {"keepalive_timeout": self.header_seconds, "lingering_time": min(self.body_seconds, 10.0)}

    def connection_cap(self) -> int:
        if self.total is not None:
            return self.total
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        return max(self.per_peer, soft // 4) if soft != resource.RLIM_INFINITY else 1 << 20


class _Gate:
    """Connections open now, per peer address, over all listeners of the process (they run on the
    protocol server's loop and the ingress's: a thread lock, held for a few operations)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()

    def admit(self, peer: str, limits: ClientLimits) -> bool:
        with self._lock:
            if self._open[peer] >= limits.per_peer or self._open.total() >= limits.connection_cap():
                return False
            self._open[peer] += 1
            return True

    def release(self, peer: str) -> None:
        with self._lock:
            self._open[peer] -= 1
            if self._open[peer] <= 0:
                del self._open[peer]


_GATE = _Gate()


class _Gated(asyncio.Protocol):
    """One accepted connection: handed to aiohttp's handler if its peer is under the caps (else answered
    503 and closed before anything is read), and closed when it waits for a request head too long."""

    def __init__(self, make_handler: Callable[[], asyncio.Protocol], limits: ClientLimits) -> None:
        self._make_handler = make_handler
        self._limits = limits
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._peer = ""
        self._busy = 0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        peername = transport.get_extra_info("peername")
        self._peer = str(peername[0]) if isinstance(peername, tuple) and peername else ""
        if not _GATE.admit(self._peer, self._limits):
            transport.write(_BUSY)
            transport.close()
            return
        self._transport = transport
        _OPEN[transport] = self
        self._inner = self._make_handler()
        self._inner.connection_made(transport)
        self._arm()

    # -- the head deadline (the middleware says when a request starts and ends) --------------------

    def request_started(self) -> None:
        self._busy += 1
        self._disarm()

    def request_ended(self) -> None:
        self._busy -= 1
        if not self._busy and self._transport is not None:
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(self._limits.header_seconds, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        transport = self._transport
        if self._busy or transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size():  # an answer is still going out: its request has ended
            self._arm()
            return
        transport.close()

    # -- asyncio.Protocol, passed on to aiohttp's handler --------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._transport is not None:
            _OPEN.pop(self._transport, None)
            self._transport = None
        if self._inner is not None:
            _GATE.release(self._peer)
            self._inner.connection_lost(exc)
            self._inner = None


# The gated connection of each open transport: the middleware finds its request's connection here.
_OPEN: dict[asyncio.BaseTransport, _Gated] = {}


async def serve(
    runner: web.AppRunner,
    limits: ClientLimits,
    *,
    sock: socket.socket | None = None,
    host: str | None = None,
    port: int = 0,
) -> asyncio.Server:
    """Serve ``runner`` (set up with ``limits.runner_kwargs()``) on ``sock`` or ``host:port`` through
    the connection caps; the caller closes the returned server before ``runner.cleanup()``."""
    handlers = runner.server
    if handlers is None:
        raise RuntimeError("the runner is not set up")
    loop = asyncio.get_running_loop()
    if sock is not None:
        return await loop.create_server(lambda: _Gated(handlers, limits), sock=sock)
    return await loop.create_server(lambda: _Gated(handlers, limits), host, port)


def deadlines(limits: ClientLimits) -> Middleware:
    """The middleware (put it first) that tells a gated connection when a request is under way (its
    head has arrived) and answers 408, closing the connection, when a request body trickles in."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = _OPEN.get(request.transport) if request.transport is not None else None
        if connection is not None:
            connection.request_started()
        try:
            return await _bounded_body(request, handler, limits)
        finally:
            if connection is not None:
                connection.request_ended()

    return middleware


async def _bounded_body(request: web.Request, handler: Handler, limits: ClientLimits) -> web.StreamResponse:
    if not request.body_exists or request.content.is_eof():
        return await handler(request)
    timeout = asyncio.timeout(None)
    clock = _BodyClock(request, timeout, limits)
    try:
        async with timeout:
            clock.start()
            try:
                return await handler(request)
            finally:
                clock.stop()
    except TimeoutError:
        if not timeout.expired():
            raise  # the handler's own
        raise web.HTTPRequestTimeout(
            text="The request body did not arrive in time.\n", headers={"Connection": "close"}
        ) from None


class _BodyClock:
    """Counts the time the server waits for ``request``'s body while reading it; past the allowance,
    the handler is cancelled through ``timeout``. A timer callback, not a task: it costs nothing
    between ticks."""

    def __init__(self, request: web.Request, timeout: asyncio.Timeout, limits: ClientLimits) -> None:
        self._request = request
        self._timeout = timeout
        self._limits = limits
        self._loop = asyncio.get_running_loop()
        self._tick = min(1.0, limits.body_seconds / 4)
        self._waited = 0.0
        self._last = self._loop.time()
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._handle = self._loop.call_later(self._tick, self._check)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        content, transport = self._request.content, self._request.transport
        if content.is_eof() or transport is None:
            return
        now = self._loop.time()
        if transport.is_reading():  # paused: the server is behind (back-pressure), not the client
            self._waited += now - self._last
        self._last = now
        allowed = self._limits.body_seconds + content.total_bytes / self._limits.body_min_rate
        if self._waited > allowed:
            self._timeout.reschedule(now)  # cancels the handler where it waits (reading the body)
            return
        self.start()
