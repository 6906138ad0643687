"""What a pushed image is, read back from the registry's storage: its digest, platform, labels and
working directory, and, for the process runtime, the files of that working directory.

The process runtime cannot run an image's layers; it runs the local stand-in the image names in its
``io.milvus-spcs.runtime`` label (``milvus``, ``milvus-lite``, ``jupyter``; the project's Dockerfiles set
it) and gives it the image's working directory as its own (the notebook, for Jupyter). An image
without the label has no stand-in: only the docker runtime can run it.
"""

from __future__ import annotations

import posixpath
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spcs_emulator.spcs.oci_storage import MANIFEST_TYPES, DistributionStore

RUNTIME_LABEL = "io.milvus-spcs.runtime"
INDEX_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
MAX_FILE_BYTES = 64 * 1024 * 1024  # a working directory holds notebooks and configs, not data


@dataclass(frozen=True)
class PushedImage:
    digest: str  # of the manifest a pull by tag resolves to (what SHOW IMAGES lists)
    platform: str  # "linux/amd64"
    labels: dict[str, str]
    working_dir: str
    layers: tuple[str, ...]  # layer digests, bottom to top


def _platform_manifest(
    store: DistributionStore, path: str, index: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """An index's linux/amd64 manifest (SPCS runs nothing else), else its first."""
    entries = index.get("manifests") or []
    if not entries:
        raise LookupError(f"{path}: an empty image index")
    chosen = next(
        (
            e
            for e in entries
            if e.get("platform", {}).get("os") == "linux"
            and e.get("platform", {}).get("architecture") == "amd64"
        ),
        entries[0],
    )
    manifest, _ = store.json(f"/v2/{path}/manifests/{chosen['digest']}", MANIFEST_TYPES)
    return manifest, str(chosen["digest"])


def describe(store: DistributionStore, path: str, reference: str) -> PushedImage:
    """``path``: the repository path in the registry (``db/schema/repo/image``); ``reference``: a tag
    or digest."""
    manifest, headers = store.json(f"/v2/{path}/manifests/{reference}", MANIFEST_TYPES)
    digest = headers.get("docker-content-digest", reference)
    if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
        manifest, _ = _platform_manifest(store, path, manifest)
    config, _ = store.json(f"/v2/{path}/blobs/{manifest['config']['digest']}")
    inner = config.get("config") or {}
    return PushedImage(
        digest=digest,
        platform=f"{config.get('os', '?')}/{config.get('architecture', '?')}",
        labels={str(k): str(v) for k, v in (inner.get("Labels") or {}).items()},
        working_dir=str(inner.get("WorkingDir") or "/"),
        layers=tuple(str(layer["digest"]) for layer in manifest.get("layers", [])),
    )


def _inside(name: str, prefix: str) -> str | None:
    """``name`` relative to ``prefix`` (both without a leading /), or None when outside or unsafe."""
    clean = posixpath.normpath((name[2:] if name.startswith("./") else name).lstrip("/"))
    if clean.startswith("..") or clean == ".":
        return None
    if prefix in ("", "."):
        return clean
    if clean == prefix:
        return ""
    return clean[len(prefix) + 1 :] if clean.startswith(prefix + "/") else None


def extract_working_dir(store: DistributionStore, path: str, image: PushedImage, destination: Path) -> int:
    """Copy the regular files of the image's working directory into ``destination``; returns how many.

    Layers are read from the top: a file seen (or deleted by a whiteout) in an upper layer hides the
    same file below, as in the union a container sees. Reading stops at the layer that created the
    directory itself, so the large layers below (the Python packages) are never downloaded.
    """
    prefix = posixpath.normpath(image.working_dir.strip("/")) if image.working_dir.strip("/") else ""
    seen: set[str] = set()
    copied = 0
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="layer-") as scratch:
        for layer in reversed(image.layers):
            blob = Path(scratch) / "layer"
            store.blob(path, layer, blob)
            created_here = False
            with tarfile.open(blob, "r:*") as tar:
                for member in tar:
                    relative = _inside(member.name, prefix)
                    if relative is None:
                        continue
                    if relative == "":
                        created_here = created_here or member.isdir()
                        continue
                    head, base = posixpath.split(relative)
                    if base.startswith(".wh."):
                        seen.add(posixpath.join(head, base[4:]))
                        continue
                    if relative in seen or not member.isfile() or member.size > MAX_FILE_BYTES:
                        seen.add(relative)
                        continue
                    seen.add(relative)
                    source = tar.extractfile(member)
                    if source is None:
                        continue
                    target = destination / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with source, target.open("wb") as out:
                        out.write(source.read())
                    copied += 1
            blob.unlink()
            if created_here:
                break
    return copied
