"""The ingress bounds what it relays and what reaches a container around it.

- WebSockets: a message over the size limit closes the socket (1009), either way; an open socket whose
  caller lost access is closed (1008) within seconds.
- Jupyter (a real server, started by the real runtime) answers only requests carrying the ingress's
  secret: a local process going to its port directly gets 403, whatever cookie, token or Host it
  sends; through the ingress the harness's own client works (XSRF checks on). The secret is in no argv.
"""

from __future__ import annotations

import asyncio
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import requests
import snowflake.connector
from aiohttp import web

from milvus_spcs.jupyter_client import JupyterOverIngress
from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.spcs.ingress import IngressProxy
from spcs_emulator.spcs.ingress_forward import WebSocketPolicy
from spcs_emulator.spcs.jupyter_auth import CONFIG_FILE
from spcs_emulator.spcs.runtime import LocalContainer, LocalRuntime
from spcs_emulator.spcs.runtime_api import INGRESS_SECRET_HEADER, IngressRoute
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.guide import run_guide_setup
from tests.emulator.local_runtime import free_port, loopback_ip, make_launch, processes_with, wait_container
from tests.emulator.sql import wait_status
from tests.emulator.upstream import UpstreamServer

TOKEN = "tok-0123456789"
UPSTREAM_IP = "127.0.0.6"
LIMIT = 4096
RECHECK = 0.2


class Upstream(UpstreamServer):
    """A container stand-in: /ws echoes text and, asked ``big <n>``, sends ``n`` bytes."""

    def __init__(self, ip: str = UPSTREAM_IP, port: int = 0) -> None:
        self.closed: list[int | None] = []
        super().__init__(ip, port)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self._ws)

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


def test_dropping_a_user_closes_its_websocket_through_the_whole_stack(tmp_path: Path) -> None:
    """Real connector, account, control plane and ingress (default policy); the Jupyter container is a
    WebSocket echo."""
    ingress = IngressProxy()
    with Emulator(runtime=FakeRuntime(), ingress=ingress, state_dir=tmp_path / "state") as emu:
        admin_conn = snowflake.connector.connect(**emu.connection_parameters())
        admin = admin_conn.cursor()
        run_guide_setup(emu, admin)
        admin.execute("USE ROLE SYSADMIN")
        wait_status(admin, "JUPYTER", "RUNNING")
        admin.execute("GRANT SERVICE ROLE MILVUS_DEMO.PUBLIC.JUPYTER!ALL_ENDPOINTS_USAGE TO ROLE MILVUS_ROLE")
        with emu.account.state.lock:
            state = next(s for s in emu.control.services.values() if s.dns_name.startswith("jupyter."))
        container = Upstream(state.ip, state.spec.public_endpoints[0].port)
        try:
            url = wait_for(
                lambda: Probe(bool(state.ingress), f"ws://{next(iter(state.ingress.values()), '')}/ws"),
                what="the Jupyter ingress",
                timeout=10,
            )
            user = snowflake.connector.connect(
                **emu.connection_parameters(user="milvus_user", password="milvususerok")
            )
            headers = {"Authorization": f'Snowflake Token="{user.rest.token}"'}

            async def session() -> tuple[str, int | None, float]:
                async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as ws:
                    await ws.send_str("hello")
                    echoed = (await ws.receive(timeout=5)).data
                    admin.execute("USE ROLE ACCOUNTADMIN")
                    admin.execute("DROP USER milvus_user")
                    dropped_at = time.monotonic()
                    await ws.receive(timeout=10)
                    return echoed, ws.close_code, time.monotonic() - dropped_at

            echoed, code, took = asyncio.run(session())
            user.close()
        finally:
            container.stop()
            admin_conn.close()
    assert echoed == "echo:5"
    assert code == aiohttp.WSCloseCode.POLICY_VIOLATION
    assert took < 3, f"the WebSocket outlived DROP USER by {took:.1f} s"


# -- the ingress adds the secret, and only the ingress ------------------------------------------------


def test_the_ingress_adds_the_routes_secret_and_drops_a_clients(upstream_echo: str) -> None:
    headers = {**AUTH, INGRESS_SECRET_HEADER: "forged-by-the-client"}
    seen = requests.get(f"http://{upstream_echo}/echo", headers=headers, timeout=10).json()
    assert seen[INGRESS_SECRET_HEADER.lower()] == ["route-secret"]


@pytest.fixture
def upstream_echo() -> Iterator[str]:
    """An ingress route with a secret, to a server that reports every value of every header it got."""

    async def echo(request: web.Request) -> web.Response:
        seen: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            seen.setdefault(name.lower(), []).append(value)
        return web.json_response(seen)

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[web.AppRunner, int]:
        app = web.Application()
        app.router.add_get("/echo", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, UPSTREAM_IP, 0).start()
        return runner, runner.addresses[0][1]

    runner, port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    proxy = IngressProxy()
    route = IngressRoute(
        "ui.abcd.svc.spcs.internal", "ui", UPSTREAM_IP, port, Access(), upstream_secret="route-secret"
    )
    try:
        yield proxy.open(route)
    finally:
        proxy.shutdown()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_the_control_plane_gives_a_service_one_secret_for_its_containers_and_routes(tmp_path: Path) -> None:
    runtime, ingress = FakeRuntime(), FakeIngress()
    with Emulator(runtime=runtime, ingress=ingress, state_dir=tmp_path / "state") as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())
        cur = conn.cursor()
        run_guide_setup(emu, cur)
        cur.execute("USE ROLE SYSADMIN")
        wait_status(cur, "JUPYTER", "RUNNING")

        def route_of_jupyter() -> IngressRoute | None:
            return next((r for r in ingress.routes.values() if r.endpoint == "jupyter"), None)

        route = wait_for(
            lambda: Probe(route_of_jupyter() is not None, route_of_jupyter()),
            what="the Jupyter route",
            timeout=10,
        )
        conn.close()
    launches = {h.launch.container: h.launch for h in runtime.handles}
    secrets_of = {name: launch.ingress_secret for name, launch in launches.items()}
    assert len(route.upstream_secret or "") >= 32
    assert secrets_of["jupyter"] == route.upstream_secret
    assert secrets_of["milvus"] not in (None, route.upstream_secret)  # another service, another secret


# -- a real Jupyter server ---------------------------------------------------------------------------


@pytest.fixture
def marker() -> str:
    return secrets.token_hex(8)


@pytest.fixture
def jupyter(tmp_path: Path, marker: str) -> Iterator[tuple[LocalContainer, str, int, str]]:
    """(container, ip, port, secret) of a Jupyter launched by the real runtime with an ingress secret."""
    image = tmp_path / "image-files"
    image.mkdir()
    (image / "Notebook.ipynb").write_text("{}")
    runtime = LocalRuntime(tmp_path / "runtime", image_dirs={"jupyter:v1": image}, probe_interval=0.1)
    ip, port, secret = loopback_ip(), free_port(), secrets.token_urlsafe(32)
    launch = make_launch(
        tmp_path,
        marker,
        runtime="jupyter",
        service="notebook",
        ip=ip,
        port=port,
        protocol="HTTP",
        hosts={},
        image="/db/public/repo/jupyter:v1",
        readiness=(port, "/api"),
        ingress_secret=secret,
    )
    try:
        handle = runtime.launch(launch)
        wait_container(handle, "READY")
        yield handle, ip, port, secret
    finally:
        runtime.shutdown()
    assert processes_with(marker) == [], "processes outlived the runtime"


@pytest.mark.slow
def test_jupyter_answers_only_the_ingress(jupyter: tuple[LocalContainer, str, int, str]) -> None:
    _, ip, port, secret = jupyter
    direct = f"http://{ip}:{port}"
    ingress = IngressProxy()
    try:
        route = IngressRoute(
            "notebook.abcd.svc.spcs.internal",
            "main",
            ip,
            port,
            lambda token: (token == TOKEN, "ALICE", "owner" if token == TOKEN else "bad token"),
            upstream_secret=secret,
        )
        through = JupyterOverIngress("http://" + ingress.open(route), TOKEN)  # the harness's own client
        names = [item["name"] for item in through.get_json("/api/contents")["content"]]
        output = through.run("print(6 * 7)")[0]

        # Around the ingress: no secret, a wrong one, Jupyter's own token forms, a forged Host, or
        # whatever cookies the ingress's answers carried.
        cookies = requests.get(
            "http://" + ingress.routes()[(route.service, route.endpoint)] + "/api/contents",
            headers=AUTH,
            timeout=10,
        ).cookies
        attempts = {
            "no secret": requests.get(f"{direct}/api/contents", timeout=10),
            "wrong secret": requests.get(
                f"{direct}/api/contents", headers={INGRESS_SECRET_HEADER: "guess"}, timeout=10
            ),
            "token header": requests.get(
                f"{direct}/api/contents", headers={"Authorization": "token ingress-only"}, timeout=10
            ),
            "token param": requests.get(f"{direct}/api/contents?token=ingress-only", timeout=10),
            "ingress cookies": requests.get(f"{direct}/api/contents", cookies=cookies, timeout=10),
            "kernel start": requests.post(f"{direct}/api/kernels", json={"name": "python3"}, timeout=10),
            "foreign host": requests.get(
                f"{direct}/api/contents",
                headers={INGRESS_SECRET_HEADER: secret, "Host": "attacker.example"},
                timeout=10,
            ),
        }
        with_secret = requests.get(
            f"{direct}/api/contents", headers={INGRESS_SECRET_HEADER: secret}, timeout=10
        )
    finally:
        ingress.shutdown()
    assert "Notebook.ipynb" in names
    assert output == "42\n"
    assert {what: r.status_code for what, r in attempts.items()} == dict.fromkeys(attempts, 403)
    assert with_secret.status_code == 200  # the secret alone is what the ingress adds


@pytest.mark.slow
def test_the_secret_is_in_no_argv_environment_or_log_and_its_file_is_gone(
    jupyter: tuple[LocalContainer, str, int, str],
) -> None:
    handle, ip, port, secret = jupyter
    assert requests.get(f"http://{ip}:{port}/api", timeout=10).status_code == 200  # the readiness probe
    pid = handle.pid
    assert pid is not None
    for name in ("cmdline", "environ"):
        assert secret.encode() not in Path(f"/proc/{pid}/{name}").read_bytes(), f"the secret is in {name}"
    assert secret not in handle.logs()
    jupyter_dir = handle.dirs.root / "jupyter"
    config = jupyter_dir / "config" / CONFIG_FILE
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert secret not in config.read_text()
    assert not (jupyter_dir / "ingress-secret").exists(), "the server removes the secret's file once read"
    runtime_files = "".join(p.read_text(errors="replace") for p in jupyter_dir.rglob("*") if p.is_file())
    assert secret not in runtime_files  # Jupyter's jpserver-<pid>.json holds only the unused placeholder
