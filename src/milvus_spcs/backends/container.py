"""Milvus in Docker through testcontainers, at a pinned image (the library defaults to ``:latest``)."""

from __future__ import annotations

from typing import Any

from milvus_spcs.backends.base import BackendUnavailable, MilvusBackend

# A released tag carrying the fix for CVE-2026-26190 (unauthenticated REST on 9091): >= 2.6.10.
DEFAULT_IMAGE = "milvusdb/milvus:v2.6.10"


def docker_engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers a ping."""
    try:
        import docker
    except ImportError:
        return "the docker Python package is not installed (pip install 'milvus-spcs[container]')"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except Exception as exc:  # the client raises several unrelated types when no daemon answers
        return f"no Docker engine answers ({type(exc).__name__}: {exc})"
    client.close()
    return None


class ContainerBackend(MilvusBackend):
    name = "container"

    def __init__(self, image: str = DEFAULT_IMAGE) -> None:
        super().__init__()
        self.image = image
        self._container: Any = None  # testcontainers' MilvusContainer once launched (untyped)

    def _launch(self) -> str:
        problem = docker_engine_problem()
        if problem:
            raise BackendUnavailable(f"--milvus-backend container needs a Docker engine: {problem}")
        from testcontainers.milvus import MilvusContainer

        container = MilvusContainer(image=self.image)
        self._container = container
        container.start()
        return container.get_connection_url()

    def stop(self) -> None:
        container, self._container, self._uri = self._container, None, None
        if container is not None:
            container.stop()

    def describe(self) -> str:
        return f"container ({self.image})"
