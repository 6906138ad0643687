"""The storage behind the emulated image registry: the CNCF distribution registry (Debian's
``docker-registry``), run by the emulator and dying with it.

It listens on a unix socket in a private directory of its own (mode 0700, short: a socket path has at
most 107 bytes, a state directory can be longer), never on a port: the
only way to it is the authenticating front (``registry_front``), which decides every request as SPCS
would. It runs below the emulator's lifeline (``processes.Lifeline``), like a container, so it ends
however the emulator ends. Deletes are off: SPCS users cannot delete images through the registry API.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from spcs_emulator.spcs.processes import Lifeline, kill_tree
from spcs_emulator.waits import Probe, wait_for

BINARY_ENV = "SPCS_EMULATOR_REGISTRY_BINARY"
START_TIMEOUT = 30.0
# What a manifest GET accepts: single-platform manifests (Docker schema 2, OCI) and indexes.
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)


def registry_binary() -> str | None:
    """The distribution registry's executable: ``$SPCS_EMULATOR_REGISTRY_BINARY``, else ``docker-registry``
    (Debian) or ``registry`` (the upstream name) on PATH."""
    chosen = os.environ.get(BINARY_ENV)
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return shutil.which("docker-registry") or shutil.which("registry")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(str(self._path))
        self.sock = sock


# A unix socket's path holds at most 107 bytes (sun_path, with its NUL): the registry fails to bind
# ("invalid argument") below a long TMPDIR.
SOCKET_PATH_MAX = 107
SOCKET_NAME = "registry.sock"


def socket_dir() -> Path:
    """A new private folder for the registry's socket: under TMPDIR, or /tmp when TMPDIR is too deep."""
    folder = Path(tempfile.mkdtemp(prefix="spcs-reg-"))
    if len(os.fsencode(folder / SOCKET_NAME)) <= SOCKET_PATH_MAX:
        return folder
    folder.rmdir()
    return Path(tempfile.mkdtemp(prefix="spcs-reg-", dir="/tmp"))


class DistributionStore:
    """One distribution registry process serving ``directory``'s storage on ``directory``/registry.sock."""

    def __init__(self, directory: Path, lifeline: Lifeline, binary: str) -> None:
        self.directory = directory
        self._socket_dir = socket_dir()
        lifeline.guard(self._socket_dir)  # removed even if the emulator is killed
        self.socket_path = self._socket_dir / SOCKET_NAME
        self._lifeline = lifeline
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        # JSON is YAML: no templating needed. relativeurls: the Location headers it sends then hold no
        # host, so they stay right behind the front whatever host the client used.
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.directory / "storage")},
                "delete": {"enabled": False},
            },
            "http": {
                "net": "unix",
                "addr": str(self.socket_path),
                "secret": secrets.token_urlsafe(24),
                "relativeurls": True,
            },
        }
        return json.dumps(config)

    def start(self, timeout: float = START_TIMEOUT) -> DistributionStore:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = self.directory / "config.yml"
        config.touch(mode=0o600)
        config.write_text(self._config())
        self.socket_path.unlink(missing_ok=True)
        log = (self.directory / "registry.log").open("ab")
        try:
            self._proc = self._lifeline.popen(
                [self._binary, "serve", str(config)], cwd=self.directory, env={}, stdout=log, stderr=log
            )
        finally:
            log.close()
        wait_for(
            self._answers, what=f"the image registry on {self.socket_path}", timeout=timeout, interval=0.1
        )
        return self

    def _answers(self) -> Probe[bool]:
        if self._proc is not None and self._proc.poll() is not None:
            tail = (self.directory / "registry.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self._binary} exited ({self._proc.returncode}): {tail}")
        try:
            status, _, _ = self.request("GET", "/v2/", timeout=2.0)
        except OSError as exc:
            return Probe(False, state=str(exc))
        return Probe(status == 200, True, state=f"HTTP {status}")

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, timeout: float = 30.0
    ) -> tuple[int, dict[str, str], bytes]:
        """One request to the storage (the emulator's own reads: manifests and configs of pushed images)."""
        conn = _UnixConnection(self.socket_path, timeout)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def json(self, path: str, accept: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, str]]:
        status, headers, body = self.request(
            "GET", path, headers={"Accept": ", ".join(accept)} if accept else {}
        )
        if status != 200:
            raise LookupError(f"{path}: HTTP {status}")
        return json.loads(body), headers

    def blob(self, repository: str, digest: str, destination: Path) -> None:
        """Copy a blob to ``destination`` (layers are large: streamed, never held in memory)."""
        conn = _UnixConnection(self.socket_path, 300.0)
        try:
            conn.request("GET", f"/v2/{repository}/blobs/{digest}")
            response = conn.getresponse()
            if response.status != 200:
                raise LookupError(f"blob {digest} of {repository}: HTTP {response.status}")
            with destination.open("wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
        finally:
            conn.close()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            kill_tree(proc)
            self._lifeline.forget(proc)
        shutil.rmtree(self._socket_dir, ignore_errors=True)
