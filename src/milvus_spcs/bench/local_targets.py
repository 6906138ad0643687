"""The local Milvus backends the benchmark runs on, and the peak memory of the process serving each.

Lite runs here in a process of its own (``python -m milvus_lite server``), as the emulator's Lite
image does, rather than in the harness's process as ``--milvus-backend lite`` does: otherwise the
benchmark's clients would share its interpreter lock and its memory figure would include theirs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil

from milvus_spcs.backends import make_backend
from milvus_spcs.backends.base import MilvusBackend, ephemeral_ports, stop_process
from milvus_spcs.backends.server import ServerBackend
from milvus_spcs.errors import WaitFailed


class LiteProcessBackend(MilvusBackend):
    name = "lite"

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir / "milvus-lite"
        self.process: subprocess.Popen[bytes] | None = None

    def _launch(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (port,) = ephemeral_ports(1)
        log = (self.data_dir.parent / "milvus-lite.log").open("wb")
        argv = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data_dir)]
        self.process = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return f"http://127.0.0.1:{port}"

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise WaitFailed(f"milvus_lite server exited with code {self.process.returncode}")

    def stop(self) -> None:
        process, self.process, self._uri = self.process, None, None
        stop_process(process)

    def describe(self) -> str:
        from importlib.metadata import version

        return f"milvus-lite {version('milvus-lite')} (own process)"


def make_target(name: str, data_dir: Path, uri: str | None, image: str | None = None) -> MilvusBackend:
    if name == "lite":
        return LiteProcessBackend(data_dir)
    return make_backend(name, data_dir=data_dir, uri=uri, image=image, run_id="bench")


def serving_pid(backend: MilvusBackend) -> int | None:
    """The process that serves Milvus, when it runs on this machine (not for container or uri)."""
    if isinstance(backend, LiteProcessBackend) and backend.process is not None:
        return backend.process.pid
    if isinstance(backend, ServerBackend):
        proc = backend._process()
        return None if proc is None else proc.pid
    return None


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM: the kernel's own high-water mark, so no sampling can miss a spike)
    of the process and its children, summed."""
    total_kb = 0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024
