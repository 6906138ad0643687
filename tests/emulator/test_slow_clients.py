"""Slow and numerous clients cannot hold the emulator's listeners (issue 16 §12, a slowloris).

Real sockets send half a request (half a head, or a head and part of a body) and stop: the SQL endpoint
and the ingress close them after their deadline (short here: the deadlines are parameters), and one
address holding its cap of connections gets the next one refused at once, while a login from another
address goes on.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import snowflake.connector

from milvus_spcs.waits import Probe, wait_for
from spcs_emulator.emulator import Emulator
from spcs_emulator.protocol.client_limits import ClientLimits
from spcs_emulator.spcs.ingress import IngressProxy
from spcs_emulator.spcs.runtime_api import IngressRoute
from tests.emulator.fakes import FakeIngress, FakeRuntime
from tests.emulator.ingress_echo import GOOD, UPSTREAM_IP, Upstream, authorize, fetch, snowflake_auth

SHORT = ClientLimits(header_seconds=0.5, body_seconds=0.5)
CAPPED = ClientLimits(per_peer=12)  # deadlines long: the half-sent requests stay open meanwhile
ATTACKER = "127.0.0.2"  # another loopback address of this host: a peer of its own


def _half_head(path: str) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()


def _half_body(path: str, headers: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Type: application/json\r\n"
    return (head + "Content-Length: 100000\r\n\r\n").encode() + b'{"data": {"LOGIN_NAME": '


def _open(address: tuple[str, int], payload: bytes, source: str = ATTACKER) -> socket.socket:
    sock = socket.create_connection(address, timeout=5, source_address=(source, 0))
    sock.sendall(payload)
    return sock


@contextlib.contextmanager
def _held(address: tuple[str, int], payloads: list[bytes]) -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    try:
        for payload in payloads:
            socks.append(_open(address, payload))
        yield socks
    finally:
        for sock in socks:
            sock.close()


def _read_until_closed(sock: socket.socket, timeout: float, received: bytearray | None = None) -> bytes:
    """What the server sent before closing ``sock`` (added to ``received``, kept if this fails);
    fails if it is still open after ``timeout``."""
    received = bytearray() if received is None else received
    deadline = time.monotonic() + timeout
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(received)
        except TimeoutError:
            raise AssertionError(f"the server still holds the connection after {timeout} s") from None
        if not chunk:
            return bytes(received)
        received += chunk


def _all_closed(socks: list[socket.socket], timeout: float) -> list[bytes]:
    """What the server sent on each of ``socks`` once it has closed them all."""
    received = [bytearray() for _ in socks]
    answers: dict[int, bytes] = {}

    def check() -> Probe[list[bytes]]:
        for i, sock in enumerate(socks):
            if i not in answers:
                with contextlib.suppress(AssertionError):
                    answers[i] = _read_until_closed(sock, 0.05, received[i])
        done = len(answers) == len(socks)
        return Probe(done, [answers[i] for i in sorted(answers)] if done else None, f"{len(answers)} closed")

    closed = wait_for(check, what="the half-sent requests to be closed", timeout=timeout, interval=0.1)
    assert closed is not None
    return closed


@contextlib.contextmanager
def _emulator(tmp_path: Path, limits: ClientLimits) -> Iterator[Emulator]:
    emu = Emulator(runtime=FakeRuntime(), ingress=FakeIngress(), state_dir=tmp_path / "state")
    emu.server.limits = limits
    with emu:
        yield emu


def _login_and_select(emu: Emulator) -> None:
    with snowflake.connector.connect(**emu.connection_parameters(), login_timeout=10) as conn:
        assert conn.cursor().execute("SELECT 1").fetchall() == [(1,)]


LOGIN_PATH = "/session/v1/login-request"


def test_half_sent_requests_to_the_sql_endpoint_are_closed_at_their_deadline(tmp_path: Path) -> None:
    with _emulator(tmp_path, SHORT) as emu:
        address = ("127.0.0.1", emu.port)
        # Connections that send nothing, half a head, a head and part of a body.
        payloads = [b""] * 3 + [_half_head(LOGIN_PATH)] * 3 + [_half_body(LOGIN_PATH)] * 4
        with _held(address, payloads) as socks:
            answers = _all_closed(socks, timeout=5)
        assert all(a == b"" for a in answers[:6]), answers[:6]  # no request yet: just closed
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers[6:]), answers[6:]
        # The connector's connections outlive idle closes: it logs in and runs statements after them.
        _login_and_select(emu)


def test_the_deadlines_leave_ordinary_uploads_alone(tmp_path: Path) -> None:
    with _emulator(tmp_path, SHORT) as emu:
        source = tmp_path / "data.bin"
        source.write_bytes(bytes(range(256)) * (64 * 1024))  # 16 MiB, sent far faster than the minimum
        with snowflake.connector.connect(**emu.connection_parameters(), login_timeout=10) as conn:
            cursor = conn.cursor()
            cursor.execute("CREATE DATABASE D")
            cursor.execute("CREATE STAGE D.PUBLIC.S")
            cursor.execute(f"PUT 'file://{source}' @D.PUBLIC.S AUTO_COMPRESS=FALSE")
            [listed] = cursor.execute("LIST @D.PUBLIC.S").fetchall()
        assert listed[:2] == ("s/data.bin", 16 * 1024 * 1024)


def test_one_address_gets_its_cap_of_connections_and_no_more(tmp_path: Path) -> None:
    with _emulator(tmp_path, CAPPED) as emu:
        address = ("127.0.0.1", emu.port)
        with _held(address, [_half_head(LOGIN_PATH)] * CAPPED.per_peer):
            started = time.monotonic()
            with _open(address, _half_head(LOGIN_PATH)) as over:
                answer = _read_until_closed(over, timeout=2)
            assert time.monotonic() - started < 2
            assert answer == b"" or answer.startswith(b"HTTP/1.1 503 "), answer
            _login_and_select(emu)  # another address (127.0.0.1) is served meanwhile
        # The cap counts open connections: once they are gone, the address is served again.
        wait_for(
            lambda: Probe(_status_from(address, ATTACKER) == 404),
            what="the attacker's address to be served again",
            timeout=5,
            interval=0.1,
        )


def _status_from(address: tuple[str, int], source: str) -> int:
    with _open(
        address, b"GET /nowhere-emulated HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", source
    ) as s:
        answer = _read_until_closed(s, timeout=5)
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


# -- the ingress ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _route(limits: ClientLimits) -> Iterator[tuple[str, int]]:
    upstream = Upstream()
    proxy = IngressProxy(limits=limits)
    try:
        route = IngressRoute("ui.abcd.svc.spcs.internal", "ui", UPSTREAM_IP, upstream.port, authorize)
        host, port = proxy.open(route).rsplit(":", 1)
        yield host, int(port)
    finally:
        proxy.shutdown()
        upstream.stop()


TOKEN_HEADER = f'Authorization: Snowflake Token="{GOOD}"\r\n'


def _echo(address: tuple[str, int]) -> int:
    host, port = address
    status, _, _ = fetch("POST", f"http://{host}:{port}/echo", data=b"ok", headers=snowflake_auth(GOOD))
    return status


def test_half_sent_requests_to_the_ingress_are_closed_at_their_deadline() -> None:
    with _route(SHORT) as address:
        payloads = [_half_head("/echo")] * 4 + [_half_body("/echo", TOKEN_HEADER)] * 4
        with _held(address, payloads) as socks:
            answers = _all_closed(socks, timeout=5)
        assert all(a == b"" for a in answers[:4]), answers[:4]
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers[4:]), answers[4:]
        assert _echo(address) == 200


def test_the_ingress_refuses_connections_over_the_cap_at_once() -> None:
    with _route(CAPPED) as address, _held(address, [_half_body("/echo", TOKEN_HEADER)] * CAPPED.per_peer):
        started = time.monotonic()
        with _open(address, _half_head("/echo")) as over:
            answer = _read_until_closed(over, timeout=2)
        assert time.monotonic() - started < 2
        assert answer == b"" or answer.startswith(b"HTTP/1.1 503 "), answer
        assert _echo(address) == 200  # from 127.0.0.1, another address
