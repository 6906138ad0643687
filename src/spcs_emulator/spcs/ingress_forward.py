"""Forwarding one authorised request to a container: plain HTTP (streamed) or a WebSocket (both ways).

Kept apart from the authentication in ``ingress``: this module knows nothing about tokens. It drops
hop-by-hop headers, the caller's ``Authorization`` and any ``Sf-Context-*`` or ingress-secret header a
client sent (only the ingress may assert who the caller is), keeps ``Host`` and ``Origin`` (Jupyter
compares them for WebSockets), adds ``X-Forwarded-*`` and the target's ingress secret.

A relayed WebSocket is bounded: messages larger than its policy's limit close it (1009, either way), and
it is closed (1008) as soon as a periodic re-check finds that the caller's access is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from spcs_emulator.spcs.runtime_api import INGRESS_SECRET_HEADER

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
WEBSOCKET_HANDSHAKE = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"}
)
USER_HEADER = "Sf-Context-Current-User"
_NO_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Content-Type")
# Tornado's (so Jupyter's) own default limit for one WebSocket message.
MAX_WEBSOCKET_MESSAGE = 10 * 1024 * 1024
ACCESS_RECHECK_SECONDS = 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebSocketPolicy:
    """Bounds of a relayed WebSocket: the largest message in either direction, and how often the
    caller's access is decided again while it is open."""

    max_message: int = MAX_WEBSOCKET_MESSAGE
    recheck_seconds: float = ACCESS_RECHECK_SECONDS

    def __post_init__(self) -> None:
        if self.max_message <= 0 or self.recheck_seconds <= 0:
            raise ValueError(f"a WebSocket policy needs positive bounds (got {self})")


StillAllowed = Callable[[], Awaitable[bool]]


def _hop_by_hop(headers: CIMultiDict[str] | web.BaseRequest) -> frozenset[str]:
    source = headers.headers if isinstance(headers, web.BaseRequest) else headers
    named = {h.strip().lower() for h in source.get("Connection", "").split(",") if h.strip()}
    return HOP_BY_HOP | named


@dataclass(frozen=True)
class Target:
    """Where an authorised request goes: ``base`` is ``http://ip:port``; ``secret`` proves it came
    through the ingress (sent in INGRESS_SECRET_HEADER; None for a target that checks none)."""

    base: str
    user: str | None
    secret: str | None = field(default=None, repr=False)


def _folded(name: str) -> str:
    """A header name as WSGI servers see it: ``Sf_Context_Current_User`` and ``Sf-Context-Current-User``
    both become ``HTTP_SF_CONTEXT_CURRENT_USER``, so both spellings are one header to the container."""
    return name.lower().replace("_", "-")


def upstream_headers(request: web.Request, target: Target, *, websocket: bool = False) -> CIMultiDict[str]:
    drop = (
        _hop_by_hop(request)
        | {"authorization", INGRESS_SECRET_HEADER.lower()}
        | (WEBSOCKET_HANDSHAKE if websocket else set())
    )
    headers = CIMultiDict(
        (k, v)
        for k, v in request.headers.items()
        if _folded(k) not in drop and not _folded(k).startswith("sf-context-")
    )
    if target.user is not None:
        headers[USER_HEADER] = target.user
    if target.secret is not None:
        headers[INGRESS_SECRET_HEADER] = target.secret
    peer = request.remote or ""
    prior = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    return headers


def _downstream_headers(upstream: aiohttp.ClientResponse) -> CIMultiDict[str]:
    drop = _hop_by_hop(CIMultiDict(upstream.headers))
    return CIMultiDict((k, v) for k, v in upstream.headers.items() if k.lower() not in drop)


async def forward_http(
    request: web.Request, session: aiohttp.ClientSession, target: Target
) -> web.StreamResponse:
    """Send the request on to the target and stream the answer back unchanged."""
    try:
        upstream = await session.request(
            request.method,
            target.base + request.rel_url.raw_path_qs,
            headers=upstream_headers(request, target),
            data=request.content if request.body_exists else None,
            allow_redirects=False,
            auto_decompress=False,  # bytes pass through as the container encoded them
            skip_auto_headers=_NO_AUTO_HEADERS,
        )
    except aiohttp.ClientError as exc:
        return web.Response(status=502, text=f"upstream not reachable: {type(exc).__name__}\n")
    async with upstream:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        response.headers.extend(_downstream_headers(upstream))
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse  # either side of a forwarded socket


async def _pump(source: WebSocket, target: WebSocket) -> None:
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            await target.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await target.send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.ERROR:
            break


async def _until_access_is_gone(still_allowed: StillAllowed, every: float) -> None:
    """Return once the caller may no longer use the endpoint (a failing check counts as gone)."""
    while True:
        await asyncio.sleep(every)
        try:
            if not await still_allowed():
                return
        except Exception:
            log.exception("re-checking a WebSocket's access failed; closing it")
            return


async def forward_websocket(
    request: web.Request,
    session: aiohttp.ClientSession,
    target: Target,
    sockets: set[web.WebSocketResponse],
    *,
    still_allowed: StillAllowed,
    policy: WebSocketPolicy,
) -> web.StreamResponse:
    """Open the WebSocket to the container first (its answer decides the subprotocol), then relay
    until either side closes, a message exceeds the policy's limit, or ``still_allowed`` says no."""
    requested = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    url = "ws" + target.base.removeprefix("http") + request.rel_url.raw_path_qs
    try:
        upstream = await session.ws_connect(
            url,
            headers=upstream_headers(request, target, websocket=True),
            protocols=requested,
            max_msg_size=policy.max_message,
        )
    except aiohttp.WSServerHandshakeError as exc:
        return web.Response(status=exc.status, text=f"upstream refused the WebSocket: {exc.message}\n")
    except aiohttp.ClientError as exc:
        return web.Response(status=502, text=f"upstream not reachable: {type(exc).__name__}\n")
    downstream = web.WebSocketResponse(
        protocols=[upstream.protocol] if upstream.protocol else (), max_msg_size=policy.max_message
    )
    await downstream.prepare(request)
    sockets.add(downstream)
    try:
        pumps = [
            asyncio.ensure_future(_pump(downstream, upstream)),
            asyncio.ensure_future(_pump(upstream, downstream)),
        ]
        revoked = asyncio.ensure_future(_until_access_is_gone(still_allowed, policy.recheck_seconds))
        done, pending = await asyncio.wait([*pumps, revoked], return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if revoked in done:
            await downstream.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"access revoked")
    finally:
        sockets.discard(downstream)
        await upstream.close(code=downstream.close_code or aiohttp.WSCloseCode.OK)
        await downstream.close(code=upstream.close_code or aiohttp.WSCloseCode.OK)
    return downstream
