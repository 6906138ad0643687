"""Jupyter through an SPCS ingress: list files, start a kernel, run code and the demo notebook in it.

Every request carries ``Authorization: Snowflake Token="..."`` (``ingress_client``: a session token or a
PAT as is, or a token exchanged for a key-pair JWT or a PAT); kernels are driven over their WebSocket
channel, as JupyterLab does, which the ingress must pass through.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from milvus_spcs.errors import HarnessError
from milvus_spcs.ingress_client import IngressCredentials, authorization, credentials_of, endpoint_url
from milvus_spcs.notebook import RESULT_TAG, result_json

XSRF = uuid.uuid4().hex
# Uploads go in pieces: an ingress may cap a request's body (the emulator's at 1 MiB, base64 included).
UPLOAD_CHUNK_BYTES = 512 * 1024


class KernelError(HarnessError):
    """Code raised inside the remote kernel; the message carries its traceback."""


class BackgroundShutdowns:
    """Kernel shutdowns in flight (``JupyterOverIngress.kernel(background_shutdown=True)``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._failures: list[str] = []

    def start(self, jupyter: JupyterOverIngress, kernel: str) -> None:
        def shut_down() -> None:
            try:
                jupyter.shutdown_kernel(kernel)
            except Exception as exc:  # reported by wait(), with the kernel's id
                with self._lock:
                    self._failures.append(f"kernel {kernel}: {type(exc).__name__}: {exc}")

        # Not a daemon: an interpreter that exits first still lets the shutdown finish.
        thread = threading.Thread(target=shut_down, name=f"kernel-shutdown-{kernel[:8]}")
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float) -> None:
        """Wait for every shutdown started so far; raise KernelError naming those that failed or
        did not end within ``timeout`` seconds."""
        with self._lock:
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            failures, self._failures = self._failures, []
        failures += [f"{t.name}: still running after {timeout:.0f} s" for t in threads if t.is_alive()]
        if failures:
            raise KernelError("kernel shutdowns failed: " + "; ".join(failures))


SHUTDOWNS = BackgroundShutdowns()


def wait_for_kernel_shutdowns(timeout: float = 60.0) -> None:
    """Before the Jupyter service goes: every background kernel shutdown has ended, or this raises."""
    SHUTDOWNS.wait(timeout)


@dataclass(frozen=True)
class JupyterOverIngress:
    # SHOW ENDPOINTS' ingress_url as is (an account's bare host: https; the emulator's loopback
    # host:port: http), or a URL.
    base_url: str
    # A session token or PAT (sent as is), or other IngressCredentials (an exchanged token); never shown.
    token: IngressCredentials | str = field(repr=False)
    timeout: float = 300.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", endpoint_url(self.base_url))
        object.__setattr__(self, "token", credentials_of(self.token))

    def _headers(self) -> dict[str, str]:
        # Jupyter's XSRF check (kept on in our image: browsers use cookies) accepts a request whose
        # X-XSRFToken header equals its _xsrf cookie; any random value will do.
        return {
            **authorization(self.token),
            "X-XSRFToken": XSRF,
            "Cookie": f"_xsrf={XSRF}",
        }

    async def _execute(self, session: aiohttp.ClientSession, kernel: str, code: str) -> str:
        msg_id = uuid.uuid4().hex
        request = {
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "session": uuid.uuid4().hex,
                "username": "milvus-spcs",
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
            "channel": "shell",
            "buffers": [],
        }
        out: list[str] = []
        errors: list[str] = []
        async with session.ws_connect(f"{self.base_url}/api/kernels/{kernel}/channels") as ws:
            await ws.send_str(json.dumps(request))
            while True:
                message = json.loads((await ws.receive(timeout=self.timeout)).data)
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = message["msg_type"]
                if kind == "stream":
                    out.append(message["content"]["text"])
                elif kind == "error":
                    errors.append("\n".join(message["content"]["traceback"]))
                elif kind == "status" and message["content"]["execution_state"] == "idle":
                    if errors:
                        raise KernelError(errors[0])
                    return "".join(out)

    def run_in(self, kernel: str, cells: list[str]) -> list[str]:
        """Run each cell in the started kernel ``kernel``; stdout of each; a failing cell raises."""

        async def run_all() -> list[str]:
            async with aiohttp.ClientSession(headers=self._headers()) as session:
                return [await self._execute(session, kernel, code) for code in cells]

        return asyncio.run(run_all())

    def _request(self, method: str, path: str, *, body: Any = None, missing_ok: bool = False) -> Any:
        """One request to the server's REST API; its JSON (None when it has none). An error status
        raises, and 404 too unless ``missing_ok``."""

        async def send() -> Any:
            async with (
                aiohttp.ClientSession(headers=self._headers()) as session,
                session.request(method, f"{self.base_url}{path}", json=body) as response,
            ):
                if response.status == 404 and missing_ok:
                    return None
                response.raise_for_status()
                return await response.json() if response.content_type == "application/json" else None

        return asyncio.run(send())

    def start_kernel(self) -> str:
        """A fresh kernel on the server; its id. Shut it down with ``shutdown_kernel``."""
        return str(self._request("POST", "/api/kernels", body={"name": "python3"})["id"])

    def shutdown_kernel(self, kernel: str) -> None:
        """Shut the kernel down and wait until it has exited; one already gone (404) is no error."""
        self._request("DELETE", f"/api/kernels/{kernel}", missing_ok=True)

    @contextlib.contextmanager
    def kernel(self, *, background_shutdown: bool = False) -> Iterator[Kernel]:
        """One fresh kernel for several runs (its variables and imports carry over), shut down after.

        A kernel that loaded the inference stack takes a second or more to exit (Python's own
        finalisation with torch loaded). With ``background_shutdown`` the caller goes on meanwhile;
        ``wait_for_kernel_shutdowns`` then waits for it, and says which failed."""
        kernel = Kernel(self, self.start_kernel())
        try:
            yield kernel
        finally:
            if background_shutdown:
                SHUTDOWNS.start(self, kernel.id)
            else:
                self.shutdown_kernel(kernel.id)

    def run(self, *cells: str) -> list[str]:
        """Run each cell in one fresh kernel; stdout of each; a failing cell raises KernelError."""
        with self.kernel() as kernel:
            return kernel.run(*cells)

    def get_json(self, path: str) -> Any:
        return self._request("GET", path)

    def upload(self, path: str, data: bytes) -> None:
        """Write ``data`` to the server's file ``path`` (relative to its root), through the contents
        API's chunked upload (chunk 1, 2, ..., then -1 for the last)."""

        pieces = [data[i : i + UPLOAD_CHUNK_BYTES] for i in range(0, len(data), UPLOAD_CHUNK_BYTES)] or [b""]
        for number, piece in enumerate(pieces, start=1):
            body = {
                "type": "file",
                "format": "base64",
                "content": base64.b64encode(piece).decode("ascii"),
                "chunk": -1 if number == len(pieces) else number,
            }
            self._request("PUT", f"/api/contents/{path}", body=body)

    def delete(self, path: str) -> None:
        self._request("DELETE", f"/api/contents/{path}")

    def run_notebook(self, name: str, *, collection: str) -> dict[str, Any]:
        """Execute the server's notebook ``name`` in a fresh kernel; the JSON of its result cell."""
        with self.kernel() as kernel:
            return kernel.run_notebook(name, collection=collection)


@dataclass(frozen=True)
class Kernel:
    """A started kernel of a Jupyter server behind the ingress (see ``JupyterOverIngress.kernel``)."""

    jupyter: JupyterOverIngress
    id: str

    def run(self, *cells: str) -> list[str]:
        """Run each cell in this kernel; stdout of each; a failing cell raises KernelError."""
        return self.jupyter.run_in(self.id, list(cells))

    def run_notebook(self, name: str, *, collection: str) -> dict[str, Any]:
        """Execute the server's notebook ``name`` cell by cell in this kernel; the JSON of its result cell."""
        notebook = self.jupyter.get_json(f"/api/contents/{name}?content=1")["content"]
        setup = f"import os\nos.environ['MILVUS_COLLECTION'] = {collection!r}\n"
        code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in code_cells]
        outputs = self.run(setup, *sources)[1:]
        for cell, output in zip(code_cells, outputs, strict=True):
            if RESULT_TAG in cell.get("metadata", {}).get("tags", []):
                return result_json(output.strip().splitlines()[-1])
        raise HarnessError(f"notebook {name} has no cell tagged {RESULT_TAG!r}")
