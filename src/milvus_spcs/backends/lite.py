"""Milvus Lite: the pure-Python Milvus, served in this process over gRPC on a free loopback port.

Serving it over gRPC (rather than opening the ``.db`` directly) lets other processes, such as the
notebook's kernel, reach the same data; Lite allows one process per data directory.
"""

from __future__ import annotations

from pathlib import Path

from milvus_spcs.backends.base import MilvusBackend
from milvus_spcs.errors import HarnessError


class LiteBackend(MilvusBackend):
    name = "lite"

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir / "milvus-lite"

    def _launch(self) -> str:
        from milvus_lite.server_manager import server_manager_instance

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        uri: str | None = server_manager_instance.start_and_get_uri(str(self.data_dir))
        if uri is None:
            raise HarnessError(f"Milvus Lite did not start for {self.data_dir} (see the milvus_lite logger)")
        return uri

    def stop(self) -> None:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(str(self.data_dir))
        self._uri = None

    def describe(self) -> str:
        from importlib.metadata import version

        return f"lite (milvus-lite {version('milvus-lite')}, data {self.data_dir})"
