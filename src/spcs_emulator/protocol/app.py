"""Snowflake's SQL REST endpoint on aiohttp (reference/snowflake.md §7, §8, Appendix A).

HTTP, JSON shapes and tokens live here; everything with meaning is the :class:`AccountBackend`'s.
Backend calls run on a worker thread (one by default, so a backend need not be thread-safe) and never
block the event loop, which the ingress proxies share.

PUT and GET: the client moves the files itself, to and from the storage a statement's answer names;
here that storage is this server, over plain HTTP, with a grant (the capability) in every path.
Connector 5.x (Rust core; it refuses ``LOCAL_FS``) gets an S3 stage whose ``endPoint`` is this server,
scheme included, and sends path-style S3 requests. Connector 4.x (the Snowflake CLI's) builds
``https://<bucket>.<endPoint>`` from any S3 or Azure endpoint, so it gets what a GCP account without
downscoped credentials answers: a ``GCS`` stage with a presigned URL per file, which it uses as it is
(``stageInfo.presignedUrl`` for each file of a PUT, asked for by re-running the PUT with that file's
name; ``presignedUrls`` for the files of a GET). :func:`_stage_put` writes a PUT's file into
``Upload.directory``; :func:`_stage_get` reads only the files the GET answered.
``stage_transport="local_fs"`` answers ``LOCAL_FS`` to PUT instead, for the 3.x connector.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from aiohttp import web

from spcs_emulator import errors, stage_digests
from spcs_emulator.errors import SnowflakeError, not_emulated
from spcs_emulator.paths import segment_too_long
from spcs_emulator.protocol import stage_download, stage_upload
from spcs_emulator.protocol.backend import (
    AccountBackend,
    AccountSession,
    Download,
    LoginRequest,
    SessionT,
    Transfer,
    Upload,
)
from spcs_emulator.protocol.sessions import BAD_REQUEST, SessionStore, TokenError, Tokens, missing_token
from spcs_emulator.results import Result, encode_rowset, rowtype
from spcs_emulator.sql.limits import kept

log = logging.getLogger(__name__)

T = TypeVar("T")
StageTransport = Literal["storage", "local_fs"]

SERVER_VERSION = "9.0.0"
INTERNAL_ERROR = 261000
STAGE_BUCKET = "spcs-emulator-stage"
STAGE_GRANT_SECONDS = 300  # long enough for one PUT's or GET's files; re-checked on every file anyway
STAGE_REGION = "us-central1"
# What a presigned URL's signature covers, as a real one says: the headers a client sends with it (a
# GCS client that sends OVERWRITE=FALSE as x-goog-if-generation-match: 0 checks this list for it).
_SIGNED_HEADERS = "X-Goog-SignedHeaders=" + quote(
    "content-encoding;host;x-goog-if-generation-match;x-goog-meta-sfc-digest", safe=""
)
UPLOAD_THRESHOLD = 200 * 1024 * 1024  # above it the client would switch to S3 multipart (not emulated)
# Request bodies, inflated: login and token requests are a few hundred bytes (checked before
# authentication, so kept small); a statement can carry an inline spec or a long script.
LOGIN_BODY_LIMIT = 4 * 1024 * 1024
QUERY_BODY_LIMIT = 16 * 1024 * 1024
RECENT_QUERIES = 1000

DEFAULT_PARAMETERS: dict[str, Any] = {
    "TIMEZONE": "UTC",
    "AUTOCOMMIT": True,
    "CLIENT_TELEMETRY_ENABLED": False,
    "CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False,
    "CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY": 3600,
}

_TOKEN_HEADER = re.compile(r'^Snowflake Token="(?P<token>[^"]*)"$')
# Statement text is logged; secret literals in it (CREATE SECRET ... PASSWORD = '...') are not.
_SECRET_LITERAL = re.compile(
    r"(?i)\b(password|secret_string|token|private_key|client_secret|oauth_refresh_token)(\s*=\s*)('(?:[^']|'')*'|\S+)"
)


@dataclass
class _QueryStatus:
    session_id: int
    user: str
    sql: str
    started_ms: int
    ended_ms: int = 0
    error: SnowflakeError | None = None


@dataclass(frozen=True)
class _StageGrant:
    """What one PUT may write (into ``Upload.directory``) or one GET may read (``Download.files``),
    while its session lives and the transfer's ``still_allowed`` says so."""

    expires: float
    session: AccountSession
    transfer: Transfer
    # A wildcard PUT's URL names no file: it answers "expired", so that the client asks per file.
    per_file: bool = False
    # The URL names the local file, and the client decides by its content whether to gzip it and add
    # ``.gz`` (AUTO_COMPRESS, SOURCE_COMPRESSION = AUTO_DETECT): the body tells (stage_upload.stored_name).
    by_content: bool = False


@dataclass
class _State:
    # One session type for both (build_app pairs them); the app itself only passes sessions along.
    backend: AccountBackend[Any]
    sessions: SessionStore[Any]
    parameters: list[dict[str, Any]]
    stage_transport: StageTransport
    executor: ThreadPoolExecutor
    clock: Callable[[], float] = time.monotonic
    grants: dict[str, _StageGrant] = field(default_factory=dict)
    queries: OrderedDict[str, _QueryStatus] = field(default_factory=OrderedDict)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a backend call on the worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, *args))

    def remember(self, query_id: str, status: _QueryStatus) -> None:
        self.queries[query_id] = status
        while len(self.queries) > RECENT_QUERIES:
            self.queries.popitem(last=False)

    def grant(
        self, session: AccountSession, transfer: Transfer, *, per_file: bool = False, by_content: bool = False
    ) -> str:
        self.drop_stale_grants()
        grant_id = secrets.token_urlsafe(24)
        expires = self.clock() + STAGE_GRANT_SECONDS
        self.grants[grant_id] = _StageGrant(expires, session, transfer, per_file, by_content)
        return grant_id

    def drop_stale_grants(self) -> None:
        """Grants die with their session (logout, expiry, or ended by the account) and at their expiry."""
        now = self.clock()
        for stale in [
            g for g, v in self.grants.items() if v.expires <= now or not self.sessions.alive(v.session)
        ]:
            del self.grants[stale]

    async def live_grant(self, grant_id: str) -> _StageGrant | None:
        """The grant if it may still be used now; one that may not is dropped for good."""
        grant = self.grants.get(grant_id)
        if grant is None:
            return None
        check = grant.transfer.still_allowed
        usable = grant.expires > self.clock() and self.sessions.alive(grant.session)
        if usable and check is not None:
            usable = await self.call(check)
        if not usable:
            self.grants.pop(grant_id, None)
            return None
        return grant


STATE = web.AppKey("spcs_emulator_protocol_state", _State)


def build_app(
    backend: AccountBackend[SessionT],
    sessions: SessionStore[SessionT],
    *,
    parameters: Mapping[str, Any] | None = None,
    stage_transport: StageTransport = "storage",
    backend_workers: int = 1,
) -> web.Application:
    """The SQL endpoint for one account. ``parameters`` override the session parameters sent at login and
    with every result; ``backend_workers`` > 1 only for a thread-safe backend."""
    merged = {**DEFAULT_PARAMETERS, **(parameters or {})}
    state = _State(
        backend=backend,
        sessions=sessions,
        parameters=[{"name": k, "value": v} for k, v in merged.items()],
        stage_transport=stage_transport,
        executor=ThreadPoolExecutor(max_workers=backend_workers, thread_name_prefix="spcs-emulator-backend"),
    )
    app = web.Application(middlewares=[_errors], client_max_size=64 * 1024 * 1024)
    app[STATE] = state
    app.on_cleanup.append(_shutdown_executor)
    app.router.add_post("/session/v1/login-request", _login)
    app.router.add_post("/queries/v1/query-request", _query)
    app.router.add_post("/queries/v1/abort-request", _abort)
    # The 5.x connector asks for /monitoring/queries//<qid> (double slash).
    app.router.add_get("/monitoring/queries/{qid:/?[^/]+}", _monitoring)
    app.router.add_post("/session", _logout)
    app.router.add_post("/session/token-request", _token_request)
    app.router.add_post("/session/heartbeat", _heartbeat)
    app.router.add_post("/telemetry/send", _telemetry)
    stage = f"/{STAGE_BUCKET}/{{grant}}/{{name}}"
    app.router.add_route("HEAD", stage, _stage_head)
    app.router.add_put(stage, _stage_put)
    # A GET's keys are stage paths, which may hold slashes; HEAD on one goes to _stage_head first.
    app.router.add_get(f"/{STAGE_BUCKET}/{{grant}}/{{key:.+}}", _stage_get)
    return app


async def _shutdown_executor(app: web.Application) -> None:
    app[STATE].executor.shutdown(wait=False, cancel_futures=True)


# -- bodies --------------------------------------------------------------------------------------


def _ok(data: Any) -> web.Response:
    return web.json_response({"data": data, "code": None, "message": None, "success": True, "headers": None})


def _error(err: SnowflakeError, query_id: str | None = None, *, status: int = 200) -> web.Response:
    """HTTP 200 and the §7.1 body; the text goes in ``message`` only (the client appends errorMessage)."""
    data: dict[str, Any] | None = {"sqlState": err.sqlstate, "queryId": query_id, "errorCode": err.code}
    if isinstance(err, TokenError):
        data = None  # session errors carry no statement data (as Snowflake and fakesnow)
    body = {"data": data, "code": err.code, "message": err.message, "success": False, "headers": None}
    return web.json_response(body, status=status)


def _internal_error(query_id: str | None = None) -> web.Response:
    """A bug in the emulator: HTTP 500, never a fake success."""
    err = SnowflakeError(
        INTERNAL_ERROR, "XX000", "Internal error processing the request (see the emulator log)."
    )
    return _error(err, query_id, status=500)


def _bad_request(what: str) -> SnowflakeError:
    return SnowflakeError(BAD_REQUEST, "08P01", f"Bad request: {what}")


@web.middleware
async def _errors(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException:
        raise
    except SnowflakeError as err:
        return _error(err)
    except Exception:
        log.error("unhandled error in %s %s", request.method, request.path, exc_info=True)
        return _internal_error()


def _too_large(limit: int) -> web.HTTPException:
    err = _bad_request(f"the request body is larger than {limit // (1024 * 1024)} MiB")
    body = {"data": None, "code": err.code, "message": err.message, "success": False, "headers": None}
    return web.HTTPRequestEntityTooLarge(
        max_size=limit, actual_size=limit + 1, text=json.dumps(body), content_type="application/json"
    )


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The body, at most ``limit`` bytes as read (aiohttp has already inflated Content-Encoding: gzip,
    chunk by chunk): a bigger one is refused with 413 as soon as it passes the limit."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _gunzip(raw: bytes, limit: int) -> bytes:
    """Inflate gzip member(s) to at most ``limit`` bytes: a gzip bomb stops at the limit, not in memory."""
    out = bytearray()
    while raw:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(raw, limit + 1 - len(out))
        except zlib.error:
            raise _bad_request("the body is not valid gzip") from None
        if len(out) > limit:
            raise _too_large(limit)
        if not inflater.eof:
            raise _bad_request("the body is not valid gzip")
        raw = inflater.unused_data
    return bytes(out)


async def _json_body(request: web.Request, limit: int = LOGIN_BODY_LIMIT) -> dict[str, Any]:
    """The JSON object of a request, read and inflated to at most ``limit`` bytes (checked before any
    authentication: an unauthenticated client cannot make the emulator inflate a bomb)."""
    raw = await _read_body(request, limit)
    # aiohttp already inflates bodies sent with Content-Encoding: gzip; this covers a gzipped body
    # without the header (the 3.x connector always gzips).
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, limit)
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _bad_request("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _bad_request("the body is not a JSON object")
    return body


def _token(request: web.Request) -> str | None:
    match = _TOKEN_HEADER.match(request.headers.get("Authorization", ""))
    return match.group("token") if match else None


def _authenticate(request: web.Request) -> tuple[str, AccountSession]:
    token = _token(request)
    if not token:
        # fakesnow answers a request without a token with HTTP 401.
        raise web.HTTPUnauthorized(
            text=json.dumps(_token_error_body(missing_token())), content_type="application/json"
        )
    return token, request.app[STATE].sessions.lookup(token)


def _token_error_body(err: SnowflakeError) -> dict[str, Any]:
    return {"data": None, "code": err.code, "message": err.message, "success": False, "headers": None}


def redact(sql: str) -> str:
    return _SECRET_LITERAL.sub(r"\1\2'***'", sql)


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- login and session -----------------------------------------------------------------------------


def _login_request(request: web.Request, body: dict[str, Any]) -> LoginRequest:
    data = body.get("data")
    if not isinstance(data, dict):
        raise _bad_request("login-request without data")
    query = request.query
    environment = data.get("CLIENT_ENVIRONMENT") or {}
    return LoginRequest(
        account=str(data.get("ACCOUNT_NAME") or ""),
        login_name=str(data.get("LOGIN_NAME") or ""),  # absent for a PAT login without user
        authenticator=str(data.get("AUTHENTICATOR") or "SNOWFLAKE").upper(),
        password=data.get("PASSWORD"),
        token=data.get("TOKEN"),
        # The client sends these in the query string, empty when not set.
        database=query.get("databaseName") or None,
        schema=query.get("schemaName") or None,
        warehouse=query.get("warehouse") or None,
        role=query.get("roleName") or None,
        session_parameters=dict(data.get("SESSION_PARAMETERS") or {}),
        application=str(environment.get("APPLICATION") or data.get("CLIENT_APP_ID") or ""),
    )


async def _login(request: web.Request) -> web.Response:
    state = request.app[STATE]
    login = _login_request(request, await _json_body(request))
    log.debug("login-request: user %r, authenticator %s", login.login_name, login.authenticator)

    def run() -> tuple[AccountSession, dict[str, str | None]]:
        session = state.backend.login(login)
        return session, session.context()

    try:
        session, context = await state.call(run)
    except SnowflakeError as err:
        log.debug("login refused for user %r: %s", login.login_name, err.code)
        return _error(err)
    except Exception:
        log.error("the backend failed on login for user %r", login.login_name, exc_info=True)
        return _internal_error()
    await _log_out_dead(state)
    tokens = state.sessions.create(session)
    log.debug("session %s opened for user %r", session.id, session.user)
    return _ok(
        {
            "token": tokens.session_token,
            "masterToken": tokens.master_token,
            "validityInSeconds": tokens.validity,
            "masterValidityInSeconds": tokens.master_validity,
            "sessionId": tokens.session_id,
            "serverVersion": SERVER_VERSION,
            "displayUserName": session.user,
            "firstLogin": False,
            "idToken": None,
            "mfaToken": None,
            "healthCheckInterval": 45,
            "newClientForUpgrade": None,
            "parameters": state.parameters,
            "sessionInfo": context,
        }
    )


async def _log_out_dead(state: _State) -> None:
    """Sessions whose master token expired are logged out of the backend (purged lazily at login)."""
    for dead in state.sessions.purge():
        try:
            await state.call(state.backend.logout, dead)
        except Exception:
            log.warning("the backend failed to log out expired session %s", dead.id, exc_info=True)


async def _logout(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.query.get("delete", "").lower() != "true":
        raise _bad_request("POST /session needs delete=true")
    token, _ = _authenticate(request)
    session = state.sessions.delete(token)
    state.drop_stale_grants()  # its upload grants end with it
    if session is not None:
        log.debug("session %s closed", session.id)
        try:
            await state.call(state.backend.logout, session)
        except Exception:
            # The session is gone either way; the client ignores logout failures.
            log.warning("the backend failed to log out session %s", session.id, exc_info=True)
    return _ok(None)


def _token_data(tokens: Tokens) -> dict[str, Any]:
    # 5.x reads sessionToken/validityInSecondsST/masterToken/validityInSecondsMT/sessionId (RENEW fails
    # without sessionId); 3.x reads masterValidityInSeconds.
    return {
        "sessionToken": tokens.session_token,
        "validityInSecondsST": tokens.validity,
        "validityInSeconds": tokens.validity,
        "masterToken": tokens.master_token,
        "validityInSecondsMT": tokens.master_validity,
        "masterValidityInSeconds": tokens.master_validity,
        "sessionId": tokens.session_id,
    }


async def _token_request(request: web.Request) -> web.Response:
    state = request.app[STATE]
    master = _token(request)
    body = await _json_body(request)
    kind = str(body.get("requestType") or "").upper()
    if kind == "RENEW":
        old = body.get("oldSessionToken")
        tokens = state.sessions.renew(master or "", old if isinstance(old, str) else None)
    elif kind == "ISSUE":
        tokens = state.sessions.issue(master or "")
    else:
        raise _bad_request(f"unknown requestType {kind!r}")
    log.debug("token-request %s for session %s", kind, tokens.session_id)
    return _ok(_token_data(tokens))


async def _heartbeat(request: web.Request) -> web.Response:
    token, _ = _authenticate(request)
    session = request.app[STATE].sessions.heartbeat(token)
    log.debug("heartbeat for session %s", session.id)
    return _ok(None)


async def _telemetry(request: web.Request) -> web.Response:
    # Client telemetry is accepted and dropped (never logged: it is client internals).
    await _read_body(request, QUERY_BODY_LIMIT)
    return web.json_response({"success": True})


async def _abort(request: web.Request) -> web.Response:
    # Statements run synchronously: by the time an abort arrives there is nothing left to abort.
    _authenticate(request)
    await _read_body(request, LOGIN_BODY_LIMIT)
    return _ok(None)


async def _monitoring(request: web.Request) -> web.Response:
    state = request.app[STATE]
    _, session = _authenticate(request)
    qid = request.match_info["qid"].lstrip("/")
    status = state.queries.get(qid)
    if status is None or status.user != session.user:
        return _ok({"queries": []})
    entry: dict[str, Any] = {
        "id": qid,
        "status": "FAILED_WITH_ERROR" if status.error else "SUCCESS",
        "state": "FAILED" if status.error else "SUCCEEDED",
        "sessionId": status.session_id,
        "sqlText": status.sql,
        "startTime": status.started_ms,
        "endTime": status.ended_ms,
        "totalDuration": status.ended_ms - status.started_ms,
    }
    if status.error is not None:
        entry["errorCode"] = status.error.code
        entry["errorMessage"] = status.error.message
    return _ok({"queries": [entry]})


# -- statements ------------------------------------------------------------------------------------


async def _query(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token, session = _authenticate(request)
    body = await _json_body(request, QUERY_BODY_LIMIT)
    sql = body.get("sqlText")
    if not isinstance(sql, str) or not sql.strip():
        raise errors.empty_statement()
    query_id = str(uuid.uuid4())
    # History and logs keep a prefix: a thousand remembered statements stay small whatever was sent.
    status = _QueryStatus(session.id, session.user, kept(sql), _now_ms())
    state.remember(query_id, status)
    log.debug("session %s query %s: %s", session.id, query_id, redact(status.sql))

    def run() -> tuple[Result | Transfer, dict[str, str | None]]:
        _refuse_unsupported(body)
        outcome = state.backend.execute(session, sql)
        return outcome, session.context()

    try:
        outcome, context = await state.call(run)
    except SnowflakeError as err:
        # Its message is kept as a prefix too: an error may quote a long value of the statement.
        status.error, status.ended_ms = SnowflakeError(err.errno, err.sqlstate, kept(err.message)), _now_ms()
        log.debug("query %s failed: %s", query_id, err.code)
        return _error(err, query_id)
    except Exception as exc:
        status.error = SnowflakeError(INTERNAL_ERROR, "XX000", f"Internal error: {type(exc).__name__}")
        status.ended_ms = _now_ms()
        log.error("the backend failed on query %s: %s", query_id, redact(status.sql), exc_info=True)
        return _internal_error(query_id)
    status.ended_ms = _now_ms()
    with contextlib.suppress(TokenError):  # a logout may have raced the statement; the result stands
        state.sessions.heartbeat(token)  # activity keeps the session alive
    if isinstance(outcome, Upload):
        return _ok(_upload_data(request, state, session, outcome, query_id))
    if isinstance(outcome, Download):
        return _ok(_download_data(request, state, session, outcome, query_id))
    return _ok(_result_data(outcome, context, query_id, state.parameters))


def _refuse_unsupported(body: dict[str, Any]) -> None:
    """Request features the emulator does not implement fail loudly instead of running the statement."""
    if body.get("asyncExec"):
        raise not_emulated("asynchronous execution (execute_async)")
    if body.get("describeOnly"):
        raise not_emulated("describe-only execution (cursor.describe)")
    if body.get("bindings"):
        raise not_emulated("server-side bind variables (paramstyle qmark/numeric)")


def _result_data(
    result: Result, context: Mapping[str, str | None], query_id: str, parameters: list[dict[str, Any]]
) -> dict[str, Any]:
    rows = encode_rowset(result)
    data: dict[str, Any] = {
        "parameters": parameters,
        "rowtype": rowtype(result),
        "rowset": rows,
        "total": len(rows),
        "returned": len(rows),
        "queryId": query_id,
        "databaseProvider": None,
        "finalDatabaseName": context.get("databaseName"),
        "finalSchemaName": context.get("schemaName"),
        "finalWarehouseName": context.get("warehouseName"),
        "numberOfBinds": 0,
        "arrayBindSupported": False,
        "statementTypeId": result.statement_type,
        "version": 1,
        "sendResultTime": _now_ms(),
        "queryResultFormat": "json",
    }
    # The client applies finalRoleName whenever the key is present: null would wipe conn.role.
    if context.get("roleName") is not None:
        data["finalRoleName"] = context["roleName"]
    return data


def _takes_an_s3_endpoint(request: web.Request) -> bool:
    """Whether the client is connector 5.x (by its User-Agent): it takes an S3 ``endPoint`` with a
    scheme; given GCS presigned URLs it would use a wildcard PUT's one URL for several files."""
    version = re.match(r"PythonConnector/(\d+)\.", request.headers.get("User-Agent", ""))
    return version is not None and int(version.group(1)) >= 5


def _s3_stage_info(request: web.Request, grant: str) -> dict[str, Any]:
    """An AWS account's internal stage, whose endPoint is this server (with its scheme: 5.x only)."""
    return {
        "locationType": "S3",
        "location": f"{STAGE_BUCKET}/{grant}/",
        "path": f"{grant}/",
        "region": "us-east-1",
        "endPoint": f"{request.scheme}://{request.host}",
        "useRegionalUrl": False,
        "isClientSideEncrypted": False,
        # The grant in the path is the capability; these only satisfy the S3 client.
        "creds": {"AWS_KEY_ID": "spcs-emulator", "AWS_SECRET_KEY": "spcs-emulator", "AWS_TOKEN": ""},
    }


def _gcs_stage_info(grant: str, presigned_url: str | None) -> dict[str, Any]:
    """A GCP account's internal stage without downscoped credentials: no token, presigned URLs."""
    return {
        "locationType": "GCS",
        "location": f"{STAGE_BUCKET}/{grant}/",
        "path": f"{grant}/",
        "region": STAGE_REGION,
        "endPoint": None,
        "storageAccount": None,
        "useRegionalUrl": False,
        "useVirtualUrl": False,
        "isClientSideEncrypted": False,
        "presignedUrl": presigned_url,
        "creds": {},
    }


def _presigned_url(request: web.Request, grant: str, key: str) -> str:
    path = quote(key, safe="/")
    return f"{request.scheme}://{request.host}/{STAGE_BUCKET}/{grant}/{path}?{_SIGNED_HEADERS}"


def _upload_data(
    request: web.Request, state: _State, session: AccountSession, upload: Upload, query_id: str
) -> dict[str, Any]:
    if state.stage_transport == "local_fs":
        stage_info: dict[str, Any] = {
            "locationType": "LOCAL_FS",
            "location": str(upload.directory),
            "path": "",
            "region": None,
            "creds": {},
        }
    elif _takes_an_s3_endpoint(request):
        stage_info = _s3_stage_info(request, state.grant(session, upload))
    else:
        # A URL for the file the statement names. Connector 4.x asks for each file's own URL anyway,
        # re-running the PUT with the name the file will be stored under.
        source = upload.src_locations[0].removeprefix("file://")
        name = os.path.basename(source)
        wildcard = len(upload.src_locations) != 1 or not name or any(c in source for c in "*?[")
        compression = upload.source_compression.lower()
        if upload.auto_compress and compression == "none":
            name += ".gz"  # the client gzips it whatever it holds
        by_content = upload.auto_compress and compression == "auto_detect"
        grant = state.grant(session, upload, per_file=wildcard, by_content=by_content)
        stage_info = _gcs_stage_info(grant, _presigned_url(request, grant, name))
    log.debug("query %s: upload of %d source(s) to %s", query_id, len(upload.src_locations), upload.directory)
    return {
        "command": "UPLOAD",
        # The client expects local paths; strip a file:// a backend may have kept from the SQL.
        "src_locations": [s.removeprefix("file://") for s in upload.src_locations],
        "stageInfo": stage_info,
        "parallel": 4,
        "autoCompress": upload.auto_compress,
        "overwrite": upload.overwrite,
        "sourceCompression": upload.source_compression,
        "threshold": UPLOAD_THRESHOLD,
        "encryptionMaterial": None,
        "presignedUrls": None,
        "queryId": query_id,
        "parameters": state.parameters,
    }


def _download_data(
    request: web.Request, state: _State, session: AccountSession, download: Download, query_id: str
) -> dict[str, Any]:
    grant = state.grant(session, download)
    log.debug("query %s: download of %d file(s) from %s", query_id, len(download.files), download.root)
    if _takes_an_s3_endpoint(request):
        stage_info, urls = _s3_stage_info(request, grant), None
    else:
        stage_info = _gcs_stage_info(grant, None)
        urls = [_presigned_url(request, grant, file) for file in download.files]
    return {
        "command": "DOWNLOAD",
        # Keys below the grant: the stand-in serves these and nothing else (_stage_get).
        "src_locations": list(download.files),
        "localLocation": download.local_directory,
        "stageInfo": stage_info,
        "presignedUrls": urls,
        "parallel": 4,
        "encryptionMaterial": None,
        "queryId": query_id,
        "parameters": state.parameters,
    }


# -- the storage stand-in the connectors upload to and download from ---------------------------


def _s3_error(status: int, code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


def _object_path(directory: Path, name: str) -> Path | web.Response:
    """``directory/name`` for one object name, which stays in the grant's directory (no symlink)."""
    if name in ("", ".", "..") or any(c in name for c in "/\\\x00"):
        return _s3_error(400, "InvalidArgument", "Invalid object name")
    if segment_too_long(name):  # S3's answer to an over-long key, before the file system's ENAMETOOLONG
        return _s3_error(400, "KeyTooLongError", "Your key is too long")
    target = directory / name
    if target.resolve().parent != directory.resolve():  # e.g. a symlink: the key stays in its grant
        return _s3_error(400, "InvalidArgument", "Invalid object name")
    return target


async def _stage_target(request: web.Request) -> tuple[_StageGrant, Path] | web.Response:
    grant = await request.app[STATE].live_grant(request.match_info["grant"])
    if grant is None or not isinstance(grant.transfer, Upload):  # a GET's grant writes nothing
        return _s3_error(403, "AccessDenied", "Access Denied")
    if grant.per_file:  # GCS's answer to an expired signed URL: the client asks for a fresh one
        return _s3_error(400, "ExpiredToken", "The provided token has expired.")
    target = _object_path(grant.transfer.directory, request.match_info["name"])
    return target if isinstance(target, web.Response) else (grant, target)


async def _stage_head(request: web.Request) -> web.StreamResponse:
    if isinstance(_grant_now(request), Download):
        return await _stage_get(request)
    found = await _stage_target(request)
    if isinstance(found, web.Response):
        return web.Response(status=found.status)  # HEAD answers carry no body
    grant, target = found
    if grant.by_content or not target.is_file():  # by_content: the name the file gets is not known yet
        return web.Response(status=404)
    stat = target.stat()
    return web.Response(
        status=200,
        headers={
            "Content-Length": str(stat.st_size),
            "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
        },
    )


def _precondition_failed() -> web.Response:
    return _s3_error(
        412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"
    )


async def _stage_put(request: web.Request) -> web.Response:
    found = await _stage_target(request)
    if isinstance(found, web.Response):
        return found
    grant, target = found
    # overwrite=false arrives as a conditional create: S3's If-None-Match: *, GCS's generation 0.
    create_only = request.headers.get("If-None-Match") == "*" or (
        request.headers.get("x-goog-if-generation-match") == "0"
    )
    if create_only and not grant.by_content and target.exists():
        return _precondition_failed()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial_file = target.with_name(f".upload-{secrets.token_hex(8)}.part")  # short whatever the key
    # A new file, never an existing one or a symlink a process sharing the user id planted: the rename
    # below replaces a symlink at the target instead of writing through it.
    fd = os.open(partial_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            received = await stage_upload.receive(request, out)
        if received is None:  # over the bound: the partial file goes (below), nothing is kept
            return _s3_error(
                stage_upload.TOO_LARGE_STATUS, stage_upload.TOO_LARGE_CODE, stage_upload.TOO_LARGE_MESSAGE
            )
        if grant.by_content:
            named = _object_path(target.parent, stage_upload.stored_name(target.name, received.head))
            if isinstance(named, web.Response):
                return named
            target = named
            if create_only and target.exists():
                return _precondition_failed()
        partial_file.replace(target)  # atomic: a reader never sees half a file
        stage_digests.remember(target, received.md5, received.size)  # LIST then hashes nothing
    finally:
        partial_file.unlink(missing_ok=True)
    log.debug("stage upload wrote %s (%d bytes)", target, received.size)
    return web.Response(status=200, headers={"ETag": f'"{received.md5}"'})


def _grant_now(request: web.Request) -> Transfer | None:
    """The transfer a URL's grant is for, not yet checked for use (live_grant does that)."""
    grant = request.app[STATE].grants.get(request.match_info["grant"])
    return None if grant is None else grant.transfer


async def _stage_get(request: web.Request) -> web.StreamResponse:
    """GetObject (and HEAD) of a GET's file: only the keys the GET answered, each still a regular file
    inside its stage."""
    grant = await request.app[STATE].live_grant(request.match_info["grant"])
    if grant is None or not isinstance(grant.transfer, Download):  # a PUT's grant reads nothing
        return _s3_error(403, "AccessDenied", "Access Denied")
    key = request.match_info.get("key") or request.match_info["name"]
    fd = stage_download.open_inside(grant.transfer.root, key) if key in grant.transfer.files else None
    if fd is None:  # not the GET's, gone since, or no longer a regular file inside its stage
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    return await stage_download.send(request, fd)
