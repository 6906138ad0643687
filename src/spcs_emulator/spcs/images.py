"""The images of image repositories: pushed through the emulated registry, or published by name.

An image is a name:tag in a repository with its digest and platform, plus the local runtime that stands
in for it under the process runtime ("milvus", "milvus-lite", "jupyter"; None: an image pushed without
the ``io.milvus-spcs.runtime`` label, which only the docker runtime runs) and, optionally, a directory of
files the container sees in its working directory (the notebook, for Jupyter). Images come from a
``docker push`` to the registry (``record_push``) or, where no registry runs, from the control API
(``publish``: a name and a runtime, no layers). A service whose image is not there fails, as on SPCS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from spcs_emulator import errors
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.paths import fqn_dir, segment

RUNTIMES = ("milvus", "milvus-lite", "jupyter")


@dataclass(frozen=True)
class ImageRef:
    repository: tuple[str, str, str]  # DB, SCHEMA, REPO (upper case)
    name: str  # image name, lower case as registries store it
    tag: str

    @property
    def key(self) -> str:
        return f"{self.name}:{self.tag}"


@dataclass(frozen=True)
class PublishedImage:
    name: str
    tag: str
    runtime: str | None
    digest: str
    created_on: dt.datetime
    files: Path | None
    platform: str = "linux/amd64"
    pushed: bool = False  # through the registry (its layers are there), not published by name


def parse_image(image: str) -> ImageRef:
    """'/db/schema/repo/name:tag' or 'host/db/schema/repo/name[:tag]' (host = a registry host)."""
    path = image.strip()
    if not path.startswith("/"):
        host, _, path = path.partition("/")
        if not host or ("." not in host and ":" not in host):
            raise errors.invalid_spec(f"image '{image}' is not in an image repository")
        path = "/" + path
    parts = path.strip("/").split("/")
    if len(parts) != 4:
        raise errors.invalid_spec(f"image '{image}' must look like /<db>/<schema>/<repository>/<image>:<tag>")
    db, schema, repo, last = parts
    name, _, tag = last.partition(":")
    return ImageRef((db.upper(), schema.upper(), repo.upper()), name.lower(), tag or "latest")


def images_of(repository: CatalogObject) -> dict[str, PublishedImage]:
    published: dict[str, PublishedImage] = repository.properties.setdefault("_IMAGES", {})
    return published


def files_dir(store: Path, ref: ImageRef) -> Path:
    """Where an image's working-directory files are kept: one encoded directory per name part, so an
    image named '..' cannot clear a parent directory."""
    repository_dir = fqn_dir(store, tuple(p.lower() for p in ref.repository))
    return repository_dir / segment(ref.name) / segment(ref.tag)


def record_push(
    repository: CatalogObject,
    ref: ImageRef,
    *,
    digest: str,
    platform: str,
    runtime: str | None,
    files: Path | None,
) -> PublishedImage:
    """A ``docker push`` of ``ref`` landed in the registry: list it (a new push of a tag replaces it)."""
    image = PublishedImage(
        ref.name,
        ref.tag,
        runtime if runtime in RUNTIMES else None,
        digest,
        dt.datetime.now(dt.UTC),
        files,
        platform=platform,
        pushed=True,
    )
    images_of(repository)[ref.key] = image
    return image


def publish(
    repository: CatalogObject, ref: ImageRef, runtime: str, files: Path | None, store: Path
) -> PublishedImage:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    copied = None
    if files is not None:
        if not files.is_dir():
            raise ValueError(f"image files {files} is not a directory")
        copied = files_dir(store, ref)
        shutil.rmtree(copied, ignore_errors=True)
        shutil.copytree(files, copied)
    digest = (
        "sha256:"
        + hashlib.sha256(f"{ref.key}:{runtime}:{dt.datetime.now(dt.UTC).isoformat()}".encode()).hexdigest()
    )
    image = PublishedImage(ref.name, ref.tag, runtime, digest, dt.datetime.now(dt.UTC), copied)
    images_of(repository)[ref.key] = image
    return image
