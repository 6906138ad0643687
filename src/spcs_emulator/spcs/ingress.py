"""The SPCS ingress: one authenticating reverse proxy per public endpoint.

Each opened route gets its own aiohttp server on 127.0.0.1 and a free port; ``host:port`` stands in for
``<hash>-<org>-<acct>.snowflakecomputing.app`` (clients prepend ``http://``). All servers run on one
asyncio loop in a thread owned by the ``IngressProxy`` instance. Per request:

- no token (``Authorization: Snowflake Token="<t>"`` or ``Bearer <t>``): 302 to the emulator's login
  stand-in ``/sfc-endpoint/login?next=<path>``, which the proxy serves itself (real SPCS sends browsers
  to Snowflake's OAuth login; the emulator has no browser sessions, so it stops there);
- a token the route's authorizer rejects: 403 with the reason (never the token);
- otherwise the request goes to the container with ``Sf-Context-Current-User: <user>``, the route's
  ``upstream_secret`` (which the container checks: it is reachable only through here) and without the
  ``Authorization`` header; WebSockets are relayed both ways (Jupyter kernels use them), with a bound on
  message size, and are closed within ``policy.recheck_seconds`` once the authorizer refuses their token.

Tokens are never logged: the access log is off and no message includes a header value. Slow and
numerous clients are bounded as on the SQL endpoint (``protocol.client_limits``): request heads and
bodies have deadlines, and one address gets a capped number of connections.
"""

from __future__ import annotations

import asyncio
import html
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from aiohttp import web

from spcs_emulator.protocol.client_limits import ClientLimits, deadlines, serve
from spcs_emulator.spcs.ingress_forward import Target, WebSocketPolicy, forward_http, forward_websocket
from spcs_emulator.spcs.runtime_api import IngressRoute

LOGIN_PATH = "/sfc-endpoint/login"
LOGOUT_PATH = "/sfc-endpoint/logout"
_SNOWFLAKE_TOKEN = re.compile(r'^\s*Snowflake\s+Token\s*=\s*"([^"]*)"\s*$', re.IGNORECASE)
_BEARER = re.compile(r"^\s*Bearer\s+(\S+)\s*$", re.IGNORECASE)
T = TypeVar("T")
# What aiohttp calls for every request an ingress server receives.
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_LOGIN_PAGE = """<!doctype html>
<html><head><title>Snowflake login (emulator)</title></head>
<body><h1>Snowpark Container Services emulator</h1>
<p>This is the emulator's stand-in for Snowflake's login page. Real SPCS signs browsers in here with
OAuth; the emulator has no browser sessions. Call the endpoint with the header
<code>Authorization: Snowflake Token="&lt;token&gt;"</code> instead.</p>
<p>Requested: <code>{next}</code></p></body></html>
"""


def token_from(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header in Snowflake's or the Bearer form; None if absent."""
    if not authorization:
        return None
    match = _SNOWFLAKE_TOKEN.match(authorization) or _BEARER.match(authorization)
    return (match.group(1) or None) if match else None


@dataclass
class _Served:
    """One route's server: the route (updated in place on reopen), its runner and its open WebSockets."""

    route: IngressRoute
    runner: web.AppRunner
    address: str
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    listener: asyncio.Server | None = None
    turn: int = 0  # the next of the route's targets (round robin over the READY instances)

    def next_target(self) -> str | None:
        if self.route.targets is None:
            return self.route.target_host
        targets = self.route.targets()
        if not targets:
            return None
        self.turn += 1
        return targets[(self.turn - 1) % len(targets)]


class IngressProxy:
    """``Ingress`` of runtime_api: ``open(route)`` -> ``"127.0.0.1:<port>"``, ``close(service)``, ``shutdown()``.

    ``host`` is where the proxies listen; ``timeout`` bounds start, open, close and shutdown;
    ``websockets`` bounds relayed WebSockets (message size, how often access is re-checked); ``limits``
    bounds clients (request deadlines, connections per address, shared with the emulator's listeners).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        timeout: float = 10.0,
        websockets: WebSocketPolicy | None = None,
        limits: ClientLimits | None = None,
    ) -> None:
        self.host = host
        self.timeout = timeout
        self.websockets = websockets or WebSocketPolicy()
        self.limits = limits or ClientLimits()
        self._served: dict[tuple[str, str], _Served] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="spcs-ingress", daemon=True)
        self._thread.start()
        self._session: aiohttp.ClientSession = self._call(self._new_session())

    # -- Ingress -----------------------------------------------------------------------------------

    def open(self, route: IngressRoute) -> str:
        key = (route.service, route.endpoint)
        with self._lock:
            if self._closed:
                raise RuntimeError("the ingress proxy is shut down")
            served = self._served.get(key)
            if served is not None:
                served.route = route  # same URL, new target or authorizer (e.g. after a resume)
                return served.address
            served = self._call(self._start(route))
            self._served[key] = served
            return served.address

    def close(self, service: str) -> None:
        with self._lock:
            keys = [k for k in self._served if k[0] == service]
            doomed = [self._served.pop(k) for k in keys]
        for served in doomed:
            self._call(self._stop(served))

    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            doomed, self._served = list(self._served.values()), {}
        for served in doomed:
            self._call(self._stop(served))
        self._call(self._session.close())
        self._call(self._loop.shutdown_default_executor())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.timeout)
        if not self._thread.is_alive():
            self._loop.close()

    def routes(self) -> dict[tuple[str, str], str]:
        """(service, endpoint) -> address of every open route."""
        with self._lock:
            return {k: s.address for k, s in self._served.items()}

    # -- the loop thread ---------------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the ingress loop and wait for it, at most ``timeout`` seconds."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout)

    async def _new_session(self) -> aiohttp.ClientSession:
        # No cookie jar: cookies belong to the callers, never to the proxy shared by all of them.
        return aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout),
        )

    async def _start(self, route: IngressRoute) -> _Served:
        app = web.Application(middlewares=[deadlines(self.limits)])
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0, **self.limits.runner_kwargs()
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        served = _Served(route, runner, f"{self.host}:{sock.getsockname()[1]}")
        app.router.add_route("*", "/{tail:.*}", self._handler(served))
        await runner.setup()
        served.listener = await serve(runner, self.limits, sock=sock)
        return served

    async def _stop(self, served: _Served) -> None:
        if served.listener is not None:
            served.listener.close()
        for ws in list(served.sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"endpoint closed")
        await served.runner.cleanup()

    def _handler(self, served: _Served) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            if request.path in (LOGIN_PATH, LOGOUT_PATH):
                page = _LOGIN_PAGE.format(next=html.escape(request.query.get("next", "/")))
                return web.Response(text=page, content_type="text/html")
            token = token_from(request.headers.get("Authorization"))
            if token is None:
                # Set verbatim: web.HTTPFound would re-normalise the quoted ``next`` through yarl.
                location = f"{LOGIN_PATH}?next={quote(request.rel_url.raw_path_qs, safe='/')}"
                return web.Response(status=302, headers={"Location": location}, text="Login required\n")
            route = served.route
            allowed, user, reason = await _authorize(served, token)
            if not allowed:
                return web.Response(status=403, text=f"Forbidden: {reason}\n")
            host = served.next_target()
            if host is None:
                return web.Response(status=503, text="No instance of the service is ready\n")
            target = Target(f"http://{host}:{route.target_port}", user, route.upstream_secret)
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self._relay_websocket(request, served, token, target)
            return await forward_http(request, self._session, target)

        return handle

    async def _relay_websocket(
        self, request: web.Request, served: _Served, token: str, target: Target
    ) -> web.StreamResponse:
        async def still_allowed() -> bool:  # the token's access, decided again while the socket is open
            return (await _authorize(served, token))[0]

        return await forward_websocket(
            request,
            self._session,
            target,
            served.sockets,
            still_allowed=still_allowed,
            policy=self.websockets,
        )


async def _authorize(served: _Served, token: str) -> tuple[bool, str | None, str]:
    """The route's current authorizer on ``token`` (it consults the account under its locks: off the loop)."""
    return await asyncio.get_running_loop().run_in_executor(None, served.route.authorize, token)
