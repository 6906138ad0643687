"""The emulated account's registry host: the OCI distribution API behind SPCS's authentication.

Every request is decided by ``registry_auth`` before it reaches the storage (``oci_storage``, a unix
socket only this front knows), then streamed through unchanged:

- ``GET /v2/``: 200 for valid credentials, else 401 with a Basic challenge (what ``docker login`` needs);
- ``/v2/<db>/<schema>/<repo>/<image>/(manifests|blobs|tags)/...``: GET and HEAD pull, POST, PUT and
  PATCH push; a manifest PUT under a tag is reported to ``on_push`` (the image joins the repository's
  listing, ``SHOW IMAGES IN IMAGE REPOSITORY``);
- ``GET /login``: the token exchange the ``snow`` CLI's ``list-tags`` does (Basic in, ``{"token"}``
  out; that token then works as ``Authorization: Bearer``);
- everything else (``/v2/_catalog``, DELETE, other paths) is refused with an OCI error.

Credentials and tokens are never logged; refusals log the reason and the path only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from spcs_emulator.spcs.oci_storage import DistributionStore
from spcs_emulator.spcs.registry_auth import SESSION_TOKEN_USER, Action, Decision, basic_credentials, token_in

log = logging.getLogger(__name__)

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}
REPOSITORY_PATH = re.compile(
    r"^/v2/(?P<db>[a-z0-9_$.-]+)/(?P<schema>[a-z0-9_$.-]+)/(?P<repo>[a-z0-9_$.-]+)/"
    r"(?P<image>[a-z0-9._-]+(?:/[a-z0-9._-]+)*?)/(?P<op>manifests|blobs|tags)(?P<rest>/.*)?$"
)
PULL_METHODS = frozenset({"GET", "HEAD"})
PUSH_METHODS = frozenset({"POST", "PUT", "PATCH"})
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization"}
)
# (repository fqn, action, credentials) -> decision; (repository fqn, image, tag, digest) -> None
Authorize = Callable[[tuple[str, str, str] | None, Action, tuple[str, str] | None], Decision]
OnPush = Callable[[tuple[str, str, str], str, str, str], None]


def _error(status: int, code: str, message: str, *, realm: str | None = None) -> web.Response:
    headers = dict(API_VERSION_HEADER)
    if status == 401 and realm is not None:
        headers["WWW-Authenticate"] = f'Basic realm="{realm}"'
    body = {"errors": [{"code": code, "message": message, "detail": None}]}
    return web.json_response(body, status=status, headers=headers)


def _credentials(request: web.Request) -> tuple[str, str] | None:
    authorization = request.headers.get("Authorization")
    if authorization and authorization.lower().startswith("bearer "):
        return SESSION_TOKEN_USER, authorization[7:].strip()
    return basic_credentials(authorization)


class RegistryFront:
    def __init__(self, store: DistributionStore, authorize: Authorize, on_push: OnPush, realm: str) -> None:
        self._store = store
        self._authorize = authorize
        self._on_push = on_push
        self._realm = realm
        self._client: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=0)
        app.router.add_get("/login", self._login)
        app.router.add_route("*", "/{path:.*}", self._any)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, _: web.Application) -> None:
        if self._client is not None:
            await self._client.close()

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None:
            self._client = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=str(self._store.socket_path)),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )
        return self._client

    async def _decide(
        self, repository: tuple[str, str, str] | None, action: Action, request: web.Request
    ) -> Decision:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._authorize, repository, action, _credentials(request))

    def _refusal(self, decision: Decision, request: web.Request) -> web.Response:
        log.info("registry refused %s %s: %s", request.method, request.path, decision.reason)
        if decision.status == 401:
            return _error(
                401, "UNAUTHORIZED", f"authentication required: {decision.reason}", realm=self._realm
            )
        if decision.status == 404:
            return _error(404, "NAME_UNKNOWN", decision.reason)
        return _error(403, "DENIED", decision.reason)

    async def _login(self, request: web.Request) -> web.Response:
        decision = await self._decide(None, "pull", request)
        if not decision.allowed:
            return self._refusal(decision, request)
        credentials = _credentials(request)
        assert credentials is not None
        return web.json_response({"token": token_in(*credentials), "expires_in": 3600})

    async def _any(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in ("/v2", "/v2/") and request.method in PULL_METHODS:
            decision = await self._decide(None, "pull", request)
            if not decision.allowed:
                return self._refusal(decision, request)
            return web.json_response({}, headers=API_VERSION_HEADER)
        match = REPOSITORY_PATH.match(path)
        if match is None or request.method not in PULL_METHODS | PUSH_METHODS:
            if _credentials(request) is None:
                return _error(401, "UNAUTHORIZED", "authentication required", realm=self._realm)
            return _error(405 if match else 404, "UNSUPPORTED", f"{request.method} {path} is not supported")
        repository = (match["db"].upper(), match["schema"].upper(), match["repo"].upper())
        action: Action = "pull" if request.method in PULL_METHODS else "push"
        decision = await self._decide(repository, action, request)
        if not decision.allowed:
            return self._refusal(decision, request)
        rest = match["rest"] or ""
        is_tag_push = (
            request.method == "PUT" and match["op"] == "manifests" and not rest.startswith("/sha256:")
        )

        async def record(upstream: aiohttp.ClientResponse) -> None:
            # Before the answer: once docker push returns, SHOW IMAGES lists the image.
            if not is_tag_push or upstream.status != 201:
                return
            digest = upstream.headers.get("Docker-Content-Digest", "")
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(
                    None, self._on_push, repository, match["image"], rest.lstrip("/"), digest
                )
            except Exception:  # the image is stored; only its listing failed: say so in the log
                log.exception("recording the push of %s%s failed", match["image"], rest)

        return await self._forward(request, record)

    async def _forward(
        self, request: web.Request, before_reply: Callable[[aiohttp.ClientResponse], Awaitable[None]]
    ) -> web.StreamResponse:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP | {"host", "authorization"}
        }
        headers["Host"] = request.host
        data: Any = request.content if request.can_read_body else None
        async with self._session().request(
            request.method,
            f"http://registry{request.raw_path}",
            headers=headers,
            data=data,
            allow_redirects=False,
        ) as upstream:
            await before_reply(upstream)
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP | {"content-length"}:
                    response.headers.add(key, value)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            if request.method != "HEAD":
                async for chunk in upstream.content.iter_chunked(1 << 20):
                    await response.write(chunk)
            await response.write_eof()
            return response
