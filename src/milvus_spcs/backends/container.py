"""Milvus in Docker through testcontainers, at a pinned image (the library defaults to ``:latest``).

Ports are published on 127.0.0.1 only. Where testcontainers' reaper (Ryuk) image is not on the engine
(it comes from Docker Hub), Ryuk is turned off and the container carries the run's label instead, so
`milvus-spcs janitor` removes it when the test process dies before ``stop``.
"""

from __future__ import annotations

import time
from typing import Any

from milvus_spcs.backends.base import BackendUnavailable, MilvusBackend
from milvus_spcs.docker_engine import (
    RUN_LABEL,
    describe_labels,
    docker_client,
    docker_engine_problem,
    image_labels,
)
from milvus_spcs.errors import PreflightError

# A released tag carrying the fix for CVE-2026-26190 (unauthenticated REST on 9091): >= 2.6.10.
DEFAULT_IMAGE = "milvusdb/milvus:v2.6.10"
__all__ = ["DEFAULT_IMAGE", "ContainerBackend", "docker_engine_problem"]


def require_image(reference: str) -> dict[str, str]:
    """The image's labels. A missing image is an error naming it, never a pull (testcontainers would
    pull it; on a machine without a registry that would hang or reach out)."""
    labels = image_labels(reference)
    if labels is None:
        raise PreflightError(
            f"image {reference} is not on the Docker engine (the harness never pulls it)",
            [
                "build it: milvus-spcs images build (offline: --bases local)",
                "then pass --milvus-image milvus-spcs/milvus:dev",
                f"or, where a registry is reachable: docker pull {reference}",
            ],
        )
    return labels


def ryuk_available() -> bool:
    from testcontainers.core.config import testcontainers_config

    return image_labels(testcontainers_config.ryuk_image) is not None


class ContainerBackend(MilvusBackend):
    name = "container"

    def __init__(self, image: str = DEFAULT_IMAGE, run_id: str = "local") -> None:
        super().__init__()
        self.image = image
        self.run_id = run_id
        self._labels: dict[str, str] | None = None
        self._container: Any = None  # testcontainers' MilvusContainer once launched (untyped)

    def _launch(self) -> str:
        problem = docker_engine_problem()
        if problem:
            raise BackendUnavailable(
                f"--milvus-backend container needs a Docker engine: {problem} "
                "(bash scripts/install-docker.sh)"
            )
        self._labels = require_image(self.image)
        from testcontainers.community.milvus import MilvusContainer
        from testcontainers.core.config import ConnectionMode, testcontainers_config

        if not ryuk_available():
            # Ryuk would be pulled from Docker Hub; the run label and the janitor do its job instead.
            testcontainers_config.ryuk_disabled = True
        if testcontainers_config.connection_mode_override is None:
            # Ports are published on the engine host's loopback, so reach them there, even when this
            # process itself runs in a container (testcontainers would then try the bridge gateway).
            testcontainers_config.connection_mode_override = ConnectionMode.docker_host
        container = MilvusContainer(image=self.image)
        # Loopback only: 9091 serves /healthz (the wait) and /management (CVE-2026-26190).
        for port in list(container.ports):
            # docker-py takes (host_ip, host_port); testcontainers annotates only the port.
            container.ports[port] = ("127.0.0.1", None)  # type: ignore[assignment]
        container.with_kwargs(
            labels={RUN_LABEL: self.run_id, "io.milvus-spcs.started": str(int(time.time()))}
        )
        self._container = container
        container.start()
        return str(container.get_connection_url())

    def stop(self) -> None:
        container, self._container, self._uri = self._container, None, None
        if container is not None:
            container.stop()

    def describe(self) -> str:
        image = self.image if self._labels is None else describe_labels(self.image, self._labels)
        return f"container ({image})"


def leftover_containers(run_id: str) -> list[str]:
    """Names of the run's containers still on the engine (a test's view of the cleanup)."""
    client = docker_client()
    try:
        return [c.name for c in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})]
    finally:
        client.close()


def header_line(image: str | None) -> str:
    """The pytest header's line for the container backend: which image, and whether it is a stand-in."""
    reference = image or DEFAULT_IMAGE
    problem = docker_engine_problem()
    described = (
        f"{reference} (no engine: {problem})"
        if problem
        else describe_labels(reference, image_labels(reference))
    )
    return f"milvus-spcs: container backend image {described}"
