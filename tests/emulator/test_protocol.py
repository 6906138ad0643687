"""The emulator's SQL endpoint against the REAL snowflake-connector-python and a fake account backend."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import re
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import snowflake.connector
from cryptography.hazmat.primitives.asymmetric import rsa
from snowflake.connector import DatabaseError, ProgrammingError
from snowflake.connector.constants import QueryStatus

from spcs_emulator.errors import SnowflakeError, compilation, does_not_exist
from spcs_emulator.protocol.app import build_app, redact
from spcs_emulator.protocol.backend import LoginRequest, Upload
from spcs_emulator.protocol.server import ProtocolServer
from spcs_emulator.protocol.sessions import SessionStore, TokenError
from spcs_emulator.results import Column, Result, status, table

# conn.rest (tokens, ISSUE) is deprecated in 5.x but still the way to see what the client holds.
pytestmark = pytest.mark.filterwarnings("ignore:.*retained only for backward compat:DeprecationWarning")

PASSWORD = "correct-horse-battery-staple"
PAT = "pat-secret-0123456789abcdef"
EPOCH = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)


# -- a fake account ------------------------------------------------------------------------------


@dataclass
class FakeSession:
    id: int
    user: str
    role: str
    database: str | None
    schema: str | None = "PUBLIC"
    warehouse: str | None = None

    def context(self) -> dict[str, str | None]:
        return {
            "databaseName": self.database,
            "schemaName": self.schema,
            "warehouseName": self.warehouse,
            "roleName": self.role,
        }


class FakeBackend:
    """SQL text -> canned results; USE ROLE changes the session; PUT answers an Upload into stage_dir."""

    def __init__(self, stage_dir: Path) -> None:
        self.stage_dir = stage_dir
        self.logins: list[LoginRequest] = []
        self.logouts: list[int] = []
        self.results: dict[str, Result] = {
            "select types": table(
                [
                    Column("NAME", "text"),
                    Column("N", "fixed"),
                    Column("OK", "boolean"),
                    Column("AT", "timestamp_ltz"),
                ],
                [["milvus", 42, True, EPOCH], ["lite", -7, False, None]],
                select=True,
            ),
            "select 1": table([Column("ONE", "fixed")], [[1]], select=True),
        }

    def login(self, request: LoginRequest) -> FakeSession:
        self.logins.append(request)
        secret = request.token if request.authenticator != "SNOWFLAKE" else request.password
        if secret not in (PASSWORD, PAT) and request.authenticator != "SNOWFLAKE_JWT":
            raise SnowflakeError(390100, "28000", "Incorrect username or password was specified.")
        return FakeSession(
            len(self.logins), request.login_name or "PAT_USER", request.role or "SYSADMIN", request.database
        )

    def execute(self, session: FakeSession, sql: str) -> Result | Upload:
        if sql in self.results:
            return self.results[sql]
        words = sql.split()
        if sql.upper().startswith("USE ROLE "):
            session.role = words[2].upper()
            return status()
        if sql.upper().startswith("PUT "):
            options = {w.split("=")[0].upper(): w.split("=")[1].upper() for w in words[3:] if "=" in w}
            return Upload(
                src_locations=(words[1].removeprefix("file://"),),
                directory=self.stage_dir,
                auto_compress=options.get("AUTO_COMPRESS", "TRUE") == "TRUE",
                overwrite=options.get("OVERWRITE", "FALSE") == "TRUE",
            )
        if sql.upper().startswith("CREATE SECRET"):
            return status("Secret S successfully created.")
        if sql == "crash":
            raise RuntimeError("the fake backend has a bug")
        if sql == "select * from nosuch":
            raise does_not_exist("Object", "NOSUCH")
        raise compilation(
            f"syntax error line 1 at position 0 unexpected '{words[0]}'.", errno=1003, sqlstate="42000"
        )

    def logout(self, session: FakeSession) -> None:
        self.logouts.append(session.id)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def backend(tmp_path: Path) -> FakeBackend:
    return FakeBackend(tmp_path / "stage")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> SessionStore:
    return SessionStore(clock=clock)


@pytest.fixture
def server(backend: FakeBackend, store: SessionStore) -> Iterator[ProtocolServer]:
    with ProtocolServer(build_app(backend, store)) as running:
        yield running


Connect = Callable[..., Any]


@pytest.fixture
def connect(server: ProtocolServer) -> Iterator[Connect]:
    opened: list[Any] = []

    def _connect(**overrides: Any) -> Any:
        params: dict[str, Any] = {
            "account": "anything",
            "user": "alice",
            "password": PASSWORD,
            "host": "127.0.0.1",
            "port": server.port,
            "protocol": "http",
            "login_timeout": 10,
            # 5.x: network_timeout is deprecated in favour of these two; platform_detection_timeout_seconds
            # is accepted but ignored, so it is not passed.
            "query_timeout": 10,
            "request_timeout": 10,
            "retry_max_attempts": 2,
            "enable_server_session_keep_alive_auto_detection": False,
            "session_parameters": {"QUERY_TAG": "protocol-test"},
        }
        params.update(overrides)
        params = {k: v for k, v in params.items() if v is not None}
        conn = snowflake.connector.connect(**params)
        opened.append(conn)
        return conn

    yield _connect
    for conn in opened:
        if not conn.is_closed():
            conn.close()


def post(
    server: ProtocolServer, path: str, body: Any, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    """A raw client: gzip JSON like the 3.x connector, for what the 5.x connector does not show."""
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    if token is not None:
        headers["Authorization"] = f'Snowflake Token="{token}"'
    request = urllib.request.Request(
        server.url + path, data=gzip.compress(json.dumps(body).encode()), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# -- login -----------------------------------------------------------------------------------------


def test_password_login_passes_the_request_to_the_backend(
    connect: Connect, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connector names its application after the modules imported so far ("jupyter_notebook" once
    # ipykernel, jupyter_core and jupyter_client are): a notebook test earlier on this worker (xdist)
    # must not change what this login sends.
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    conn = connect(database="MILVUS_DB", role="MILVUS_ROLE", warehouse="WH")
    [login] = backend.logins
    assert (login.account, login.login_name, login.authenticator) == ("anything", "alice", "SNOWFLAKE")
    assert login.password == PASSWORD
    assert (login.database, login.role, login.warehouse, login.schema) == (
        "MILVUS_DB",
        "MILVUS_ROLE",
        "WH",
        None,
    )
    assert login.session_parameters["QUERY_TAG"] == "protocol-test"
    assert login.application == "PythonConnector"
    assert (conn.database, conn.role, conn.schema) == ("MILVUS_DB", "MILVUS_ROLE", "PUBLIC")


def test_wrong_password_raises_database_error_with_the_server_code(connect: Connect) -> None:
    with pytest.raises(DatabaseError) as caught:
        connect(password="wrong")
    # 3.x wrapped this as 250001 (08001); the 5.x core passes the server's code through.
    assert caught.value.errno == 390100
    assert "Incorrect username or password was specified." in str(caught.value)


def test_key_pair_login_sends_a_jwt_the_backend_can_verify(connect: Connect, backend: FakeBackend) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    connect(password=None, private_key=key)
    [login] = backend.logins
    assert login.authenticator == "SNOWFLAKE_JWT"
    assert login.password is None
    claims = jwt.decode(login.token or "", key.public_key(), algorithms=["RS256"])
    assert claims["sub"] == "ANYTHING.ALICE"
    assert claims["iss"].startswith("ANYTHING.ALICE.SHA256:")


def test_programmatic_access_token_login_needs_no_user(connect: Connect, backend: FakeBackend) -> None:
    conn = connect(user=None, password=None, authenticator="PROGRAMMATIC_ACCESS_TOKEN", token=PAT)
    [login] = backend.logins
    assert (login.authenticator, login.token, login.login_name) == ("PROGRAMMATIC_ACCESS_TOKEN", PAT, "")
    assert conn.cursor().execute("select 1").fetchall() == [(1,)]


# -- statements ------------------------------------------------------------------------------------


def test_result_values_decode_to_python_types(connect: Connect) -> None:
    cursor = connect().cursor()
    rows = cursor.execute("select types").fetchall()
    assert rows == [("milvus", 42, True, EPOCH), ("lite", -7, False, None)]
    assert isinstance(rows[0][1], int)
    assert rows[0][3].tzinfo is not None
    assert [d.name for d in cursor.description] == ["NAME", "N", "OK", "AT"]
    assert cursor.rowcount == 2
    uuid.UUID(cursor.sfqid)  # query ids are uuid-shaped: the connector validates them


def test_statement_error_raises_programming_error(connect: Connect) -> None:
    cursor = connect().cursor()
    with pytest.raises(ProgrammingError) as caught:
        cursor.execute("select * from nosuch")
    err = caught.value
    assert (err.errno, err.sqlstate) == (2003, "02000")
    assert str(err).startswith("002003 (02000): SQL compilation error:\nObject 'NOSUCH' does not exist")
    assert str(err).count("does not exist") == 1  # the text is not repeated through data.errorMessage
    uuid.UUID(err.sfqid)


def test_session_context_follows_the_backend(connect: Connect) -> None:
    conn = connect(database="DB1")
    conn.cursor().execute("use role ACCOUNTADMIN")
    assert conn.role == "ACCOUNTADMIN"
    assert conn.database == "DB1"


def test_query_status_is_reported(connect: Connect) -> None:
    conn = connect()
    cursor = conn.cursor()
    cursor.execute("select 1")
    assert conn.get_query_status(cursor.sfqid) == QueryStatus.SUCCESS
    with pytest.raises(ProgrammingError) as caught:
        cursor.execute("select * from nosuch")
    assert conn.get_query_status(caught.value.sfqid) == QueryStatus.FAILED_WITH_ERROR


def test_server_side_bindings_are_refused_not_ignored(connect: Connect) -> None:
    cursor = connect(paramstyle="qmark").cursor()
    with pytest.raises(ProgrammingError) as caught:
        cursor.execute("select 1 where 1 = ?", [1])
    assert caught.value.errno == 9999
    assert "not emulated" in str(caught.value)


# -- tokens ----------------------------------------------------------------------------------------


def test_expired_session_token_is_renewed_transparently(
    connect: Connect, store: SessionStore, backend: FakeBackend
) -> None:
    conn = connect()
    old = conn.rest.token
    store.expire(old)
    assert conn.cursor().execute("select 1").fetchall() == [(1,)]
    new = conn.rest.token
    assert new != old
    assert store.lookup(new).user == "alice"
    with pytest.raises(TokenError):
        store.lookup(old)
    assert len(backend.logins) == 1  # renewed, not logged in again


def test_issue_adds_a_session_token(connect: Connect, store: SessionStore) -> None:
    conn = connect()
    old = conn.rest.token
    issued = conn.rest._token_request("ISSUE")["data"]
    assert issued["validityInSecondsST"] == 3600
    assert store.lookup(issued["sessionToken"]) is store.lookup(old)


def test_heartbeat_keeps_the_master_token_alive(
    connect: Connect, store: SessionStore, clock: FakeClock, backend: FakeBackend
) -> None:
    from snowflake.connector._internal.api_client.client_api import core_driver

    conn = connect()
    clock.now += 14000  # session token long expired, master token (14400 s) about to
    core_driver.connection_heartbeat(conn_handle=conn.conn_handle)
    clock.now += 1000  # past the login's master expiry: only the heartbeat kept the session
    assert conn.cursor().execute("select 1").fetchall() == [(1,)]
    assert len(backend.logins) == 1


def test_close_deletes_the_session(connect: Connect, store: SessionStore, backend: FakeBackend) -> None:
    conn = connect()
    token = conn.rest.token
    conn.close()
    with pytest.raises(TokenError) as caught:
        store.lookup(token)
    assert caught.value.errno == 390104
    assert backend.logouts == [1]
    assert len(store) == 0


def test_forgotten_session_raises_login_again(connect: Connect, store: SessionStore) -> None:
    conn = connect()
    store.delete(conn.rest.token)
    with pytest.raises(ProgrammingError) as caught:
        conn.cursor().execute("select 1")
    assert caught.value.errno == 390104


def test_raw_token_errors_and_telemetry(server: ProtocolServer, store: SessionStore) -> None:
    query = {"sqlText": "select 1", "asyncExec": False, "sequenceId": 1}
    assert post(server, "/telemetry/send", {"logs": []}, token="whatever") == (200, {"success": True})

    code, body = post(server, "/queries/v1/query-request", query)
    assert (code, body["code"], body["success"]) == (401, "390103", False)

    code, body = post(server, "/queries/v1/query-request", query, token="not-a-token")
    assert (code, body["code"], body["message"], body["success"]) == (
        200,
        "390104",
        "User must login again to access the service.",
        False,
    )

    tokens = store.create(FakeSession(7, "bob", "PUBLIC", None))
    store.expire(tokens.session_token)
    code, body = post(server, "/queries/v1/query-request", query, token=tokens.session_token)
    assert (code, body["code"]) == (200, "390112")

    code, body = post(server, "/session/heartbeat", {}, token="not-a-token")
    assert body["code"] == "390104"


def test_backend_bug_answers_http_500_and_is_logged(
    server: ProtocolServer, store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = store.create(FakeSession(7, "bob", "PUBLIC", None))
    code, body = post(server, "/queries/v1/query-request", {"sqlText": "crash"}, token=tokens.session_token)
    assert code == 500
    assert (body["code"], body["success"]) == ("261000", False)
    # Only the app's own: garbage of earlier tests (an unclosed aiohttp session) may log through asyncio.
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    [record] = [r for r in errors if r.name.startswith("spcs_emulator")]
    assert record.exc_info is not None
    assert "the fake backend has a bug" in caplog.text


def test_query_result_never_wipes_the_role(server: ProtocolServer, store: SessionStore) -> None:
    tokens = store.create(FakeSession(7, "bob", "PUBLIC", None))
    code, body = post(
        server, "/queries/v1/query-request", {"sqlText": "select 1"}, token=tokens.session_token
    )
    data = body["data"]
    assert (code, data["finalRoleName"], data["finalDatabaseName"]) == (200, "PUBLIC", None)
    assert (data["queryResultFormat"], data["rowset"], data["total"], data["statementTypeId"]) == (
        "json",
        [["1"]],
        1,
        4096,
    )


# -- PUT -------------------------------------------------------------------------------------------


def test_put_writes_the_file_into_the_stage_directory(
    connect: Connect, backend: FakeBackend, tmp_path: Path
) -> None:
    source = tmp_path / "spec.yaml"
    source.write_text("spec:\n  containers: []\n")
    cursor = connect().cursor()

    rows = cursor.execute(f"PUT file://{source} @specs").fetchall()
    assert [(r[0], r[1], r[6]) for r in rows] == [("spec.yaml", "spec.yaml.gz", "UPLOADED")]
    assert gzip.decompress((backend.stage_dir / "spec.yaml.gz").read_bytes()) == source.read_bytes()

    rows = cursor.execute(f"PUT file://{source} @specs").fetchall()
    assert rows[0][6] == "SKIPPED"  # OVERWRITE=FALSE and the file is there

    source.write_text("spec: {}\n")
    rows = cursor.execute(f"PUT file://{source} @specs AUTO_COMPRESS=FALSE OVERWRITE=TRUE").fetchall()
    assert (rows[0][1], rows[0][6]) == ("spec.yaml", "UPLOADED")
    assert (backend.stage_dir / "spec.yaml").read_text() == "spec: {}\n"
    assert sorted(p.name for p in backend.stage_dir.iterdir()) == ["spec.yaml", "spec.yaml.gz"]


def test_put_local_fs_answer_for_the_3x_connector(
    backend: FakeBackend, store: SessionStore, tmp_path: Path
) -> None:
    with ProtocolServer(build_app(backend, store, stage_transport="local_fs")) as server:
        tokens = store.create(FakeSession(7, "bob", "PUBLIC", None))
        sql = f"PUT file://{tmp_path}/a.yaml @specs AUTO_COMPRESS=FALSE"
        _, body = post(server, "/queries/v1/query-request", {"sqlText": sql}, token=tokens.session_token)
    data = body["data"]
    assert (data["command"], data["autoCompress"], data["overwrite"]) == ("UPLOAD", False, False)
    assert data["src_locations"] == [f"{tmp_path}/a.yaml"]
    assert data["stageInfo"] == {
        "locationType": "LOCAL_FS",
        "location": str(backend.stage_dir),
        "path": "",
        "region": None,
        "creds": {},
    }


# -- logs ------------------------------------------------------------------------------------------


def test_logs_carry_no_password_or_token(
    connect: Connect, store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    conn = connect()
    secrets = {PASSWORD, PAT, "hunter2", conn.rest.token, conn.rest.master_token}
    cursor = conn.cursor()
    cursor.execute("select types")
    cursor.execute("CREATE SECRET s TYPE = PASSWORD USERNAME = 'u' PASSWORD = 'hunter2'")
    store.expire(conn.rest.token)
    cursor.execute("select 1")
    secrets.add(conn.rest.token)
    conn.close()
    connect(user=None, password=None, authenticator="PROGRAMMATIC_ACCESS_TOKEN", token=PAT).close()

    ours = [r for r in caplog.records if r.name.startswith("spcs_emulator")]
    assert any("select types" in r.getMessage() for r in ours)  # statements are logged ...
    assert any("PASSWORD = '***'" in r.getMessage() for r in ours)  # ... with secret literals redacted
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    leaked = [s for s in secrets if s and s in text]
    assert not leaked


def test_redact_hides_secret_literals() -> None:
    sql = "create secret s type=password username='u' password='it''s' secret_string = abc"
    assert redact(sql) == "create secret s type=password username='u' password='***' secret_string = '***'"


# -- the token store -------------------------------------------------------------------------------


def test_store_tokens_are_random_and_long(store: SessionStore) -> None:
    a = store.create(FakeSession(1, "a", "R", None))
    b = store.create(FakeSession(2, "b", "R", None))
    tokens = {a.session_token, a.master_token, b.session_token, b.master_token}
    assert len(tokens) == 4
    assert all(len(t) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens)


def test_store_validity_renew_issue_and_purge(store: SessionStore, clock: FakeClock) -> None:
    session = FakeSession(1, "a", "R", None)
    login = store.create(session)
    assert (login.validity, login.master_validity) == (3600, 14400)

    clock.now += 3600
    with pytest.raises(TokenError) as caught:
        store.lookup(login.session_token)
    assert caught.value.errno == 390112

    renewed = store.renew(login.master_token, login.session_token)
    assert store.lookup(renewed.session_token) is session
    issued = store.issue(login.master_token)
    assert store.lookup(issued.session_token) is store.lookup(renewed.session_token)

    with pytest.raises(TokenError) as caught:
        store.renew("no-such-master", None)
    assert caught.value.errno == 390113

    clock.now += 14400
    with pytest.raises(TokenError) as caught:
        store.renew(login.master_token, renewed.session_token)
    assert caught.value.errno == 390114
    with pytest.raises(TokenError) as caught:
        store.lookup(renewed.session_token)
    assert caught.value.errno == 390104
    assert store.purge() == [session]
    assert len(store) == 0


def test_store_is_configurable_and_refuses_foreign_tokens(clock: FakeClock) -> None:
    store = SessionStore(session_validity=10, master_validity=20, clock=clock)
    a = store.create(FakeSession(1, "a", "R", None))
    b = store.create(FakeSession(2, "b", "R", None))
    assert (a.validity, a.master_validity) == (10, 20)
    with pytest.raises(TokenError) as caught:
        store.renew(a.master_token, b.session_token)
    assert caught.value.errno == 390400
    with pytest.raises(TokenError) as caught:
        store.lookup(None)
    assert caught.value.errno == 390103
    store.expire(a.session_token, master=True)
    with pytest.raises(TokenError) as caught:
        store.issue(a.master_token)
    assert caught.value.errno == 390114


# -- the server --------------------------------------------------------------------------------------


def test_server_binds_a_free_port_and_hosts_extra_coroutines(
    backend: FakeBackend, store: SessionStore
) -> None:
    stopped: list[str] = []

    async def extra() -> str:
        return "ran on the server loop"

    async def cleanup() -> None:
        stopped.append("yes")

    server = ProtocolServer(lambda: build_app(backend, store))
    with server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.run_coroutine(extra()).result(timeout=5) == "ran on the server loop"
        server.on_stop(cleanup)
        assert post(server, "/telemetry/send", {})[0] == 200
        with pytest.raises(RuntimeError):
            server.start()
        with pytest.raises(RuntimeError, match="failed to start"):
            ProtocolServer(build_app(backend, store), port=server.port).start()
    assert stopped == ["yes"]
    server.stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        post(server, "/telemetry/send", {})
