"""The ingress bounds what it relays and what reaches a container around it.

- WebSockets: a message over the size limit closes the socket (1009), either way; an open socket whose
  caller lost access is closed (1008) within seconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from spcs_emulator.spcs.ingress import IngressProxy
from spcs_emulator.spcs.ingress_forward import WebSocketPolicy
from spcs_emulator.spcs.runtime_api import IngressRoute

TOKEN = "tok-0123456789"
UPSTREAM_IP = "127.0.0.6"
LIMIT = 4096
RECHECK = 0.2


class Upstream:
    """A container stand-in: /ws echoes text and, asked ``big <n>``, sends ``n`` bytes."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.closed: list[int | None] = []
        self.runner: web.AppRunner | None = None
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, UPSTREAM_IP, 0).start()
        return self.runner.addresses[0][1]

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)  # the upstream itself takes anything
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data.startswith("big "):
                await ws.send_bytes(b"x" * int(msg.data.split()[1]))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(f"echo:{len(msg.data)}")
        self.closed.append(ws.close_code)
        return ws

    def stop(self) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


class Access:
    """An authorizer whose answer the test flips, as a DROP USER or REVOKE flips the account's."""

    def __init__(self) -> None:
        self.granted = True
        self.calls = 0

    def __call__(self, token: str | None) -> tuple[bool, str | None, str]:
        self.calls += 1
        if token == TOKEN and self.granted:
            return True, "ALICE", "owner"
        return False, None, "the session has ended"


@pytest.fixture
def access() -> Access:
    return Access()


@pytest.fixture
def ws_url(upstream: Upstream, access: Access) -> Iterator[str]:
    proxy = IngressProxy(websockets=WebSocketPolicy(max_message=LIMIT, recheck_seconds=RECHECK))
    route = IngressRoute("ui.abcd.svc.spcs.internal", "ui", UPSTREAM_IP, upstream.port, access)
    yield f"ws://{proxy.open(route)}/ws"
    proxy.shutdown()


AUTH = {"Authorization": f'Snowflake Token="{TOKEN}"'}


def relay(url: str, steps) -> list[tuple[aiohttp.WSMsgType, object]]:
    """Open a WebSocket through the ingress, run ``steps(ws)``; what it returns."""

    async def go():
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, headers=AUTH, max_msg_size=0) as ws,
        ):
            return await steps(ws)

    return asyncio.run(go())


def test_a_message_within_the_limit_passes_both_ways(ws_url: str) -> None:
    async def steps(ws):
        await ws.send_str("a" * (LIMIT - 10))
        echo = await ws.receive(timeout=5)
        await ws.send_str(f"big {LIMIT - 10}")
        big = await ws.receive(timeout=5)
        return echo.data, len(big.data)

    assert relay(ws_url, steps) == (f"echo:{LIMIT - 10}", LIMIT - 10)


def test_a_client_message_over_the_limit_closes_the_socket(ws_url: str, upstream: Upstream) -> None:
    async def steps(ws):
        await ws.send_str("a" * (LIMIT + 1))
        message = await ws.receive(timeout=5)
        return message.type, ws.close_code

    kind, code = relay(ws_url, steps)
    assert kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


def test_a_container_message_over_the_limit_closes_the_socket(ws_url: str) -> None:
    async def steps(ws):
        await ws.send_str(f"big {LIMIT + 1}")
        message = await ws.receive(timeout=5)
        return message.type, ws.close_code

    kind, code = relay(ws_url, steps)
    assert kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


def test_an_open_socket_is_closed_within_seconds_once_access_is_gone(
    ws_url: str, access: Access, upstream: Upstream
) -> None:
    async def steps(ws):
        await ws.send_str("hello")
        before = (await ws.receive(timeout=5)).data
        access.granted = False  # the user was dropped, disabled or lost the role
        revoked_at = time.monotonic()
        message = await ws.receive(timeout=10)
        return before, message.type, ws.close_code, time.monotonic() - revoked_at

    before, kind, code, took = relay(ws_url, steps)
    assert before == "echo:5"
    assert kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert code == aiohttp.WSCloseCode.POLICY_VIOLATION
    assert took < 3, f"the socket outlived the revocation by {took:.1f} s"
    assert access.calls >= 2  # the handshake, then at least one re-check


def test_the_policy_refuses_unbounded_values() -> None:
    for bad in ({"max_message": 0}, {"recheck_seconds": 0}):
        with pytest.raises(ValueError, match="positive bounds"):
            WebSocketPolicy(**bad)
