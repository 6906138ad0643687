"""The body of one object the connector uploads for a PUT (an S3 PutObject, or a PUT to a GCS presigned
URL): written to a file as it streams in, at most :data:`MAX_OBJECT_BYTES`, with the MD5 that LIST
shows (``stage_digests``) and the stand-in answers as ETag.

The bound is the emulator's own: to S3 the connector sends a file up to its threshold (200 MiB, the
``threshold`` of the PUT answer) as one PutObject and a larger one as a multipart upload, which the
stand-in does not emulate; to GCS it sends each file whole. A bigger single body (the grant is in the
answer the client received) is refused as S3 refuses one over its own 5 GB limit, and nothing of it is
kept.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from typing import BinaryIO

from aiohttp import web

MAX_OBJECT_BYTES = 200 * 1024 * 1024
_CHUNK = 256 * 1024

# S3's answer to a PutObject over its limit (HTTP 400).
TOO_LARGE_STATUS = 400
TOO_LARGE_CODE = "EntityTooLarge"
TOO_LARGE_MESSAGE = "Your proposed upload exceeds the maximum allowed size"


_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Received:
    size: int
    md5: str
    head: bytes  # the first bytes, for stored_name


def stored_name(name: str, head: bytes) -> str:
    """The name a client stores the local file ``name`` under when the PUT let it decide whether to
    compress it (AUTO_COMPRESS = TRUE, SOURCE_COMPRESSION = AUTO_DETECT): both connectors gzip a file
    whose name shows no compression (an encoding by its extension, or ``.br``) unless its first bytes
    show one (ORC, Parquet, zstd), and then add ``.gz``. So a gzip body under a name that shows no
    compression is one the client compressed."""
    _type, encoding = mimetypes.guess_type(name)
    if encoding is None and not name.endswith(".br") and head.startswith(_GZIP_MAGIC):
        return f"{name}.gz"
    return name


async def receive(request: web.Request, out: BinaryIO) -> Received | None:
    """Write ``request``'s body to ``out``; None (stop reading) once it is larger than the bound,
    already from its Content-Length. The bound is read here, at each upload (a test may lower it)."""
    limit = MAX_OBJECT_BYTES
    if request.content_length is not None and request.content_length > limit:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    head = b""
    # Local disk writes and hashing of one chunk are short enough to do on the loop.
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        if len(head) < len(_GZIP_MAGIC):
            head += chunk[: len(_GZIP_MAGIC) - len(head)]
        out.write(chunk)
        digest.update(chunk)
    return Received(size, digest.hexdigest(), head)
