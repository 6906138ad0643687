"""The SPCS ingress proxy against a real aiohttp upstream: auth, header rules, streaming, WebSockets."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from spcs_emulator.spcs.ingress import LOGIN_PATH, IngressProxy, token_from
from spcs_emulator.spcs.runtime_api import IngressRoute
from tests.emulator.ingress_echo import BAD, GOOD, UPSTREAM_IP, Upstream, authorize, fetch, snowflake_auth
from tests.emulator.upstream import UpstreamServer


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture
def ingress() -> Iterator[IngressProxy]:
    proxy = IngressProxy()
    yield proxy
    proxy.shutdown()


@pytest.fixture
def base(ingress: IngressProxy, upstream: Upstream) -> str:
    route = IngressRoute("ui.abcd.svc.spcs.internal", "ui", UPSTREAM_IP, upstream.port, authorize)
    return "http://" + ingress.open(route)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Snowflake Token="abc.def"', "abc.def"),
        ('snowflake token = "abc"', "abc"),
        ("Bearer xyz", "xyz"),
        ('Snowflake Token=""', None),
        ("Basic dXNlcjpwYXNz", None),
        (None, None),
    ],
)
def test_token_forms(header: str | None, expected: str | None) -> None:
    assert token_from(header) == expected


def test_no_token_redirects_to_the_login_stand_in(base: str) -> None:
    status, headers, body = fetch("GET", f"{base}/echo?a=1")
    assert status == 302
    assert headers["Location"] == f"{LOGIN_PATH}?next=/echo%3Fa%3D1"
    assert b"method" not in body  # the upstream never answered

    status, headers, body = fetch("GET", base + headers["Location"])
    assert status == 200
    assert b"emulator" in body
    assert "/echo?a=1" in body.decode()


def test_unusable_authorization_header_is_no_token(base: str) -> None:
    status, headers, _ = fetch(
        "POST", f"{base}/echo", headers={"Authorization": "Basic dXNlcjpwYXNz"}, data=b"x"
    )
    assert status == 302
    assert headers["Location"].startswith(LOGIN_PATH)


def test_rejected_token_is_403_with_the_reason_and_without_the_token(base: str) -> None:
    status, _, body = fetch("GET", f"{base}/echo", headers=snowflake_auth(BAD))
    assert status == 403
    assert b"has no role with access" in body
    assert BAD.encode() not in body


def test_allowed_request_reaches_the_container_as_the_user(base: str) -> None:
    headers = {
        **snowflake_auth(GOOD),
        "Sf-Context-Current-User": "MALLORY",
        # Issue 16, item 14: WSGI servers fold "_" into "-": the underscore spellings are the same claims.
        "Sf_Context_Current_User": "MALLORY",
        "X_Spcs_Ingress_Secret": "forged",
        "X-Custom": "kept",
    }
    status, response_headers, body = fetch("POST", f"{base}/echo?q=1&r=two", headers=headers, data=b"payload")
    assert status == 200
    assert response_headers["X-Upstream"] == "yes"
    seen = json.loads(body)
    assert seen["method"] == "POST"
    assert seen["path"] == "/echo?q=1&r=two"
    assert seen["body"] == "payload"
    upstream_headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert upstream_headers["sf-context-current-user"] == "ALICE"  # the client's claim is replaced
    assert "authorization" not in upstream_headers
    assert not {k for k in upstream_headers if k.replace("_", "-").startswith("sf-context-")} - {
        "sf-context-current-user"
    }
    assert "x_spcs_ingress_secret" not in upstream_headers
    assert upstream_headers["x-custom"] == "kept"
    assert upstream_headers["host"] == base.removeprefix("http://")  # Jupyter compares Host and Origin


def test_bearer_token_is_accepted(base: str) -> None:
    status, _, body = fetch("GET", f"{base}/echo", headers={"Authorization": f"Bearer {GOOD}"})
    assert status == 200
    assert json.loads(body)["headers"]["Sf-Context-Current-User"] == "ALICE"


def test_streamed_response_arrives_whole(base: str) -> None:
    status, _, body = fetch("GET", f"{base}/big", headers=snowflake_auth(GOOD))
    assert status == 200
    assert body == b"".join(f"{i:05d}".encode() * 200 for i in range(200))


def test_websocket_is_relayed_both_ways(base: str) -> None:
    async def go() -> list[Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{base}/ws", headers=snowflake_auth(GOOD), protocols=("echo.v1",)) as ws,
        ):
            got: list[Any] = [ws.protocol, (await ws.receive(timeout=5)).data]
            await ws.send_str("ping")
            got.append((await ws.receive(timeout=5)).data)
            await ws.send_bytes(b"\x01\x02\x03")
            got.append((await ws.receive(timeout=5)).data)
            return got

    assert asyncio.run(go()) == ["echo.v1", "hello ALICE", "echo:ping", b"\x03\x02\x01"]


def test_websocket_without_token_is_not_upgraded(base: str) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    status, headers, _ = fetch("GET", f"{base}/ws", headers=upgrade)
    assert status == 302
    assert headers["Location"] == f"{LOGIN_PATH}?next=/ws"
    status, _, body = fetch("GET", f"{base}/ws", headers={**upgrade, **snowflake_auth(BAD)})
    assert status == 403
    assert BAD.encode() not in body


def test_upstream_down_is_502(ingress: IngressProxy) -> None:
    with socket.socket() as sock:
        sock.bind((UPSTREAM_IP, 0))
        dead_port = sock.getsockname()[1]
    address = ingress.open(
        IngressRoute("gone.abcd.svc.spcs.internal", "ui", UPSTREAM_IP, dead_port, authorize)
    )
    status, _, _ = fetch("GET", f"http://{address}/", headers=snowflake_auth(GOOD))
    assert status == 502


def test_reopen_keeps_the_address_and_close_frees_the_port(ingress: IngressProxy, upstream: Upstream) -> None:
    route = IngressRoute("svc.abcd.svc.spcs.internal", "ui", UPSTREAM_IP, upstream.port, authorize)
    other = IngressRoute("other.abcd.svc.spcs.internal", "ui", UPSTREAM_IP, upstream.port, authorize)
    address = ingress.open(route)
    kept = ingress.open(other)
    assert ingress.open(route) == address
    ingress.close("svc.abcd.svc.spcs.internal")
    host, port = address.split(":")
    with socket.socket() as sock:
        sock.bind((host, int(port)))  # free again
    assert ingress.routes() == {("other.abcd.svc.spcs.internal", "ui"): kept}
    assert fetch("GET", f"http://{kept}/echo", headers=snowflake_auth(GOOD))[0] == 200


def test_close_ends_open_websockets(ingress: IngressProxy, upstream: Upstream) -> None:
    address = ingress.open(
        IngressRoute("ws.abcd.svc.spcs.internal", "ui", UPSTREAM_IP, upstream.port, authorize)
    )

    async def go() -> aiohttp.WSMsgType:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"http://{address}/ws", headers=snowflake_auth(GOOD)) as ws,
        ):
            await ws.receive(timeout=5)
            await asyncio.to_thread(ingress.close, "ws.abcd.svc.spcs.internal")
            return (await ws.receive(timeout=5)).type

    assert asyncio.run(go()) in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


def test_shutdown_is_idempotent_and_final(upstream: Upstream) -> None:
    proxy = IngressProxy()
    proxy.open(IngressRoute("x.abcd.svc.spcs.internal", "ui", UPSTREAM_IP, upstream.port, authorize))
    proxy.shutdown()
    proxy.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        proxy.open(IngressRoute("y.abcd.svc.spcs.internal", "ui", UPSTREAM_IP, upstream.port, authorize))


class Instance(UpstreamServer):
    """One instance of a service with several: it answers with its own address."""

    def routes(self, app: web.Application) -> None:
        async def who(request: web.Request) -> web.Response:
            return web.Response(text=self.ip)

        app.router.add_get("/who", who)


def test_requests_are_spread_over_the_ready_instances_and_none_ready_is_503(ingress: IngressProxy) -> None:
    first = Instance("127.0.0.6")
    second = Instance("127.0.0.7", first.port)  # every instance serves the endpoint on the same port
    ready: tuple[str, ...] = ("127.0.0.6", "127.0.0.7")
    try:
        address = ingress.open(
            IngressRoute(
                "multi.abcd.svc.spcs.internal",
                "ui",
                "127.0.0.6",
                first.port,
                authorize,
                targets=lambda: ready,
            )
        )
        answers = [fetch("GET", f"http://{address}/who", headers=snowflake_auth(GOOD)) for _ in range(4)]
        assert [(status, body.decode()) for status, _, body in answers] == [
            (200, "127.0.0.6"),
            (200, "127.0.0.7"),
            (200, "127.0.0.6"),
            (200, "127.0.0.7"),
        ]
        ready = ("127.0.0.7",)  # instance 0 is no longer ready: nothing goes to it
        assert {fetch("GET", f"http://{address}/who", headers=snowflake_auth(GOOD))[2] for _ in range(3)} == {
            b"127.0.0.7"
        }
        ready = ()
        status, _, body = fetch("GET", f"http://{address}/who", headers=snowflake_auth(GOOD))
        assert (status, body) == (503, b"No instance of the service is ready\n")
    finally:
        first.stop()
        second.stop()
