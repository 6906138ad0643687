"""The emulated image registry: images published into image repositories without Docker.

An image is a name:tag in a repository plus the local runtime that stands in for it ("milvus",
"milvus-lite", "jupyter") and, optionally, a directory of files the container sees in its working
directory (the notebook, for Jupyter). A service whose image was never published fails, as on SPCS.
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
    runtime: str
    digest: str
    created_on: dt.datetime
    files: Path | None


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


def publish(
    repository: CatalogObject, ref: ImageRef, runtime: str, files: Path | None, store: Path
) -> PublishedImage:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    copied = None
    if files is not None:
        if not files.is_dir():
            raise ValueError(f"image files {files} is not a directory")
        # One encoded directory per name part: an image named '..' cannot clear a parent directory.
        repository_dir = fqn_dir(store, tuple(p.lower() for p in ref.repository))
        copied = repository_dir / segment(ref.name) / segment(ref.tag)
        shutil.rmtree(copied, ignore_errors=True)
        shutil.copytree(files, copied)
    digest = (
        "sha256:"
        + hashlib.sha256(f"{ref.key}:{runtime}:{dt.datetime.now(dt.UTC).isoformat()}".encode()).hexdigest()
    )
    image = PublishedImage(ref.name, ref.tag, runtime, digest, dt.datetime.now(dt.UTC), copied)
    images_of(repository)[ref.key] = image
    return image
