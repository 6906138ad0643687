"""The real Milvus standalone binary from the `milvus` package (``milvus-server``); no Docker needed."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from milvus_spcs.backends.base import MilvusBackend, stop_process
from milvus_spcs.errors import WaitFailed


class ServerBackend(MilvusBackend):
    name = "server"

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir / "milvus-server"
        self._server: Any = None  # milvus.MilvusServer once launched (the package has no types)

    def _launch(self) -> str:
        from milvus import MilvusServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # MilvusServer picks free ports (gRPC, metrics, etcd, coordinators) starting at the defaults;
        # readiness is ours (a real RPC), not its /healthz poll.
        server = MilvusServer(wait_for_started=False)
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
