"""Local Milvus backends behind one interface, chosen by name."""

from __future__ import annotations

from pathlib import Path

from milvus_spcs.backends.base import BackendUnavailable as BackendUnavailable
from milvus_spcs.backends.base import MilvusBackend as MilvusBackend
from milvus_spcs.errors import PreflightError

BACKEND_NAMES = ("lite", "server", "container", "uri")


def make_backend(
    name: str, *, data_dir: Path, uri: str | None = None, image: str | None = None, run_id: str = "local"
) -> MilvusBackend:
    """Build (not start) the backend called ``name``; unknown names fail before anything starts."""
    if name == "lite":
        from milvus_spcs.backends.lite import LiteBackend

        return LiteBackend(data_dir)
    if name == "server":
        from milvus_spcs.backends.server import ServerBackend

        return ServerBackend(data_dir)
    if name == "container":
        from milvus_spcs.backends.container import DEFAULT_IMAGE, ContainerBackend

        return ContainerBackend(image or DEFAULT_IMAGE, run_id)
    if name == "uri":
        from milvus_spcs.backends.uri import UriBackend

        return UriBackend(uri)
    raise PreflightError(f"unknown Milvus backend {name!r}", [f"choose one of: {', '.join(BACKEND_NAMES)}"])
