"""The ingress tests' container stand-in and their client: an echo upstream on a container's own
address, the authorizer its route is opened with (``GOOD`` is ALICE's token, ``BAD`` one refused), and
a request made the way a browser or a client library makes it (no redirect followed)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from tests.emulator.upstream import UpstreamServer

GOOD, BAD = "good-token-0123", "bad-token-4567"
UPSTREAM_IP = "127.0.0.6"  # a container's own loopback address, as the runtime gives it


def authorize(token: str | None) -> tuple[bool, str | None, str]:
    if token == GOOD:
        return True, "ALICE", "owner"
    if token == BAD:
        return False, "BOB", "user BOB has no role with access to endpoint ui"
    return False, None, "the token is invalid or expired"


class Upstream(UpstreamServer):
    """A container stand-in: /echo reports what arrived, /ws echoes, /big streams."""

    def __init__(self) -> None:
        super().__init__(UPSTREAM_IP)

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/echo", self._echo)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/big", self._big)

    async def _echo(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        seen = {
            "method": request.method,
            "path": request.path_qs,
            "body": body,
            "headers": dict(request.headers),
        }
        return web.json_response(seen, headers={"X-Upstream": "yes"})

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("echo.v1",))
        await ws.prepare(request)
        await ws.send_str(f"hello {request.headers.get('Sf-Context-Current-User')}")
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str("echo:" + msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(msg.data[::-1])
        return ws

    async def _big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(200):
            await response.write(f"{i:05d}".encode() * 200)
        await response.write_eof()
        return response


def fetch(method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    async def go() -> tuple[int, dict[str, str], bytes]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url, allow_redirects=False, **kwargs) as response,
        ):
            return response.status, dict(response.headers), await response.read()

    return asyncio.run(go())


def snowflake_auth(token: str) -> dict[str, str]:
    return {"Authorization": f'Snowflake Token="{token}"'}
