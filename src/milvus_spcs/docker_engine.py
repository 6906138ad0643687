"""The Docker engine as the harness sees it: whether one answers, what an image says it is, and the
containers the harness started (labelled with their run, swept by the janitor)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# Labels: on stand-in base images (value: what they stand in for), on every image `milvus-spcs images
# build` makes (the Milvus release inside), and on every container the harness starts (its run id).
STANDIN_LABEL = "io.milvus-spcs.stand-in"
MILVUS_VERSION_LABEL = "io.milvus-spcs.milvus-version"
RUN_LABEL = "io.milvus-spcs.run"


def docker_client(timeout: int = 5) -> Any:
    """A client of the engine DOCKER_HOST names (docker-py has no types)."""
    import docker

    return docker.from_env(timeout=timeout)


def docker_engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers a ping."""
    try:
        import docker  # noqa: F401
    except ImportError:
        return "the docker Python package is not installed (pip install 'milvus-spcs[container]')"
    try:
        client = docker_client()
        client.ping()
    except Exception as exc:  # the client raises several unrelated types when no daemon answers
        return f"no Docker engine answers ({type(exc).__name__}: {exc})"
    client.close()
    return None


def image_labels(reference: str) -> dict[str, str] | None:
    """The labels of a local image, or None when the engine does not have it (never pulls)."""
    from docker.errors import ImageNotFound

    client = docker_client()
    try:
        return dict(client.images.get(reference).labels or {})
    except ImageNotFound:
        return None
    finally:
        client.close()


def describe_labels(reference: str, labels: dict[str, str] | None) -> str:
    """``<ref>: stand-in (Milvus 2.3.5)``, ``<ref>: real base (Milvus 2.6.10)`` or ``<ref>: not present``."""
    if labels is None:
        return f"{reference}: not on the engine (milvus-spcs images build)"
    version = labels.get(MILVUS_VERSION_LABEL)
    milvus = f"Milvus {version}" if version else "no Milvus"
    kind = "stand-in" if STANDIN_LABEL in labels else "real base"
    return f"{reference}: {kind} ({milvus})"


def describe_image(reference: str) -> str:
    return describe_labels(reference, image_labels(reference))


@dataclass(frozen=True)
class LabelledContainer:
    name: str
    run_id: str
    created: datetime


def labelled_containers(client: Any) -> list[LabelledContainer]:
    """Every container (running or not) that carries the harness's run label."""
    found = []
    for container in client.containers.list(all=True, filters={"label": RUN_LABEL}):
        created = container.attrs.get("Created", "")
        # Docker prints nanoseconds; fromisoformat takes at most microseconds.
        stamp = datetime.fromisoformat(created[:26].rstrip("Z") + "+00:00") if created else datetime.now(UTC)
        found.append(LabelledContainer(container.name, container.labels.get(RUN_LABEL, "?"), stamp))
    return found


def sweep_containers(older_than: timedelta, report: Callable[[str], object]) -> list[LabelledContainer]:
    """Remove (with their anonymous volumes) the labelled containers created more than ``older_than``
    ago; an engine that does not answer has none to sweep."""
    if docker_engine_problem():
        return []
    client = docker_client()
    removed = []
    try:
        cutoff = datetime.now(UTC) - older_than
        for found in labelled_containers(client):
            if found.created > cutoff:
                continue
            client.containers.get(found.name).remove(force=True, v=True)
            report(
                f"removed container {found.name} (run {found.run_id}, created {found.created.isoformat()})"
            )
            removed.append(found)
    finally:
        client.close()
    return removed
