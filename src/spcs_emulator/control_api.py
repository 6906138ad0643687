"""The emulator's own control API (not Snowflake's): reset, fault injection, image publishing.

All routes live under ``/_emulator/`` on the SQL endpoint's port and need the admin password in the
``X-Emulator-Admin-Password`` header. Bodies and answers are JSON; ``control_client.ControlClient``
calls them.

| route | body | effect |
|---|---|---|
| POST /_emulator/reset | {} | back to a fresh account (processes of services are stopped) |
| POST /_emulator/faults/statement | {"pattern": regex, "message"?, "errno"?, "sqlstate"?, "times"?} | the next matching statement(s) fail |
| POST /_emulator/faults/service-start | {"service": name, "reason": "image" \\| "capacity" \\| text} | that service's next start FAILS |
| POST /_emulator/faults/crash-container | {"service": "DB.SCHEMA.SVC", "container": name, "instance"?: id} | kill the container's process (it restarts) |
| POST /_emulator/images | {"image": "<repository_url>/<name>:<tag>", "runtime": "milvus" \\| "milvus-lite" \\| "jupyter", "files"?: dir} | publish an image |
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from spcs_emulator.control_client import HEADER
from spcs_emulator.spcs import images
from spcs_emulator.spcs.control import NotFound

if TYPE_CHECKING:
    from spcs_emulator.account.faults import Faults
    from spcs_emulator.spcs.control import ControlPlane

START_FAILURES = {
    "image": "Failed to pull image: image not found in the repository.",
    "capacity": "Unschedulable due to insufficient CPU resources in the compute pool.",
}


class Controllable(Protocol):
    """What the control API drives: an emulator (``emulator.Emulator``), or a stand-in in a test."""

    @property
    def admin_password(self) -> str: ...

    @property
    def control(self) -> ControlPlane: ...

    @property
    def statement_faults(self) -> Faults: ...

    def reset(self) -> None: ...


# The optional fields of POST faults/statement, and how each is read from the JSON body.
STATEMENT_FAULT_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "message": str,
    "errno": int,
    "sqlstate": str,
    "times": int,
}


def publish_image(control: ControlPlane, image: str, runtime: str, files: Path | None) -> dict[str, Any]:
    ref = images.parse_image(image)
    published = control.publish_image(ref, runtime, files)
    return {
        "image": f"/{'/'.join(ref.repository).lower()}/{ref.key}",
        "digest": published.digest,
        "runtime": runtime,
    }


def fail_service_start(control: ControlPlane, service: str, reason: str) -> dict[str, Any]:
    control.fail_next_start(service, START_FAILURES.get(reason, reason))
    return {"service": service, "reason": reason}


def crash_container(control: ControlPlane, service: str, container: str, instance: int = 0) -> dict[str, Any]:
    control.crash_container(service, container, instance)
    return {"service": service, "container": container, "instance": instance}


def _admin_password_matches(request: web.Request, password: str) -> bool:
    """Compared as bytes: ``hmac.compare_digest`` raises on non-ASCII str, and a header may hold any
    bytes (aiohttp decodes them as UTF-8 with surrogate escapes)."""
    given = request.headers.get(HEADER, "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, password.encode("utf-8"))


Action = Callable[[dict[str, Any]], dict[str, Any]]  # the request's JSON body -> the answer's


def add_control_routes(app: web.Application, emulator: Controllable) -> None:
    def route(action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            if not _admin_password_matches(request, emulator.admin_password):
                return web.json_response({"error": f"missing or wrong {HEADER}"}, status=401)
            try:
                body = await request.json() if request.can_read_body else {}
            except ValueError:
                return web.json_response({"error": "the body is not JSON"}, status=400)
            if not isinstance(body, dict):
                return web.json_response({"error": "the body is not a JSON object"}, status=400)
            try:
                result = await asyncio.get_running_loop().run_in_executor(None, action, body)
            except (NotFound, ValueError, KeyError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            except Exception as exc:  # a Snowflake-style error from the account, e.g. a bad image path
                return web.json_response({"error": str(exc)}, status=400)
            return web.json_response(result)

        return handler

    def reset(body: dict[str, Any]) -> dict[str, Any]:
        emulator.reset()
        return {"reset": True}

    def fault_statement(body: dict[str, Any]) -> dict[str, Any]:
        # What the body leaves out takes Faults.fail_statement's defaults (written there only).
        options = {key: convert(body[key]) for key, convert in STATEMENT_FAULT_OPTIONS.items() if key in body}
        emulator.statement_faults.fail_statement(body["pattern"], **options)
        return {"pattern": body["pattern"]}

    app.router.add_post("/_emulator/reset", route(reset))
    app.router.add_post("/_emulator/faults/statement", route(fault_statement))
    app.router.add_post(
        "/_emulator/faults/service-start",
        route(lambda b: fail_service_start(emulator.control, b["service"], b.get("reason", "image"))),
    )
    app.router.add_post(
        "/_emulator/faults/crash-container",
        route(
            lambda b: crash_container(
                emulator.control, b["service"], b["container"], int(b.get("instance", 0))
            )
        ),
    )
    app.router.add_post(
        "/_emulator/images",
        route(
            lambda b: publish_image(
                emulator.control, b["image"], b["runtime"], Path(b["files"]) if b.get("files") else None
            )
        ),
    )
