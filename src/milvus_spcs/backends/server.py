"""The real Milvus standalone binary from the `milvus` package (``milvus-server``); no Docker needed."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from milvus_spcs.backends.base import MilvusBackend, ephemeral_ports, stop_process
from milvus_spcs.errors import WaitFailed

WEBSERVICE = "webservice_port"  # metrics and /healthz: an attribute of MilvusServer, not a config key


def milvus_default_ports() -> dict[str, int]:
    """The ports the `milvus` package's binary takes by default, by its config key (19530, 9091, ...)."""
    from milvus import MilvusServer

    server = MilvusServer(wait_for_started=False)  # reads the package's config template, starts nothing
    ports = {key: int(server.config.get(key)) for key in server.config_keys if key.endswith("_port")}
    return {**ports, WEBSERVICE: int(server.webservice_port)}


class ServerBackend(MilvusBackend):
    name = "server"

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir / "milvus-server"
        self._server: Any = None  # milvus.MilvusServer once launched (the package has no types)

    def _launch(self) -> str:
        from milvus import MilvusServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Every port from the kernel's ephemeral range, none of Milvus's defaults: the binary listens on
        # all addresses ([::]:19530, [::]:9091, ...), so on a default port it would take that port from
        # every loopback address, and an emulator's Milvus, which listens on the defaults of its
        # service's own address, would fail to start beside it (and the reverse). Readiness is ours (a
        # real RPC), not MilvusServer's /healthz poll.
        keys = list(milvus_default_ports())
        ports = dict(zip(keys, ephemeral_ports(len(keys)), strict=True))
        webservice = ports.pop(WEBSERVICE)
        server = MilvusServer(wait_for_started=False, **ports)
        server.webservice_port = webservice
        server.set_base_dir(str(self.data_dir))
        self._server = server
        server.start()
        return f"http://127.0.0.1:{server.listen_port}"

    def check_alive(self) -> None:
        proc = self._process()
        if proc is not None and proc.poll() is not None:
            raise WaitFailed(f"milvus-server exited with code {proc.returncode}; log: {self.log_path()}")

    def _process(self) -> subprocess.Popen[bytes] | None:
        return None if self._server is None else self._server.server_proc

    def stop(self) -> None:
        server, self._server, self._uri = self._server, None, None
        if server is None:
            return
        stop_process(server.server_proc)
        server.stop()  # closes its log files; the process is already gone

    def log_path(self) -> Path | None:
        return self.data_dir / "logs" / "milvus-stdout.log"

    def describe(self) -> str:
        from importlib.metadata import version

        return f"server (milvus {version('milvus')} standalone binary, data {self.data_dir})"
