"""The body of one S3 PutObject the connector sends for a PUT: written to a file as it streams in, at
most :data:`MAX_OBJECT_BYTES`, with the MD5 that LIST shows (``stage_digests``) and S3 answers as ETag.

The bound is the emulator's own: the connector sends a file up to its threshold (200 MiB, the
``threshold`` of the PUT answer) as one PutObject and a larger one as a multipart upload, which the
stand-in does not emulate; a client that sends a bigger single body anyway (the grant is in the answer
it received) is refused as S3 refuses one over its own 5 GB limit, and nothing of it is kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from aiohttp import web

MAX_OBJECT_BYTES = 200 * 1024 * 1024
_CHUNK = 256 * 1024

# S3's answer to a PutObject over its limit (HTTP 400).
TOO_LARGE_CODE = "EntityTooLarge"
TOO_LARGE_MESSAGE = "Your proposed upload exceeds the maximum allowed size"


@dataclass(frozen=True)
class Received:
    size: int
    md5: str


async def receive(request: web.Request, out: BinaryIO) -> Received | None:
    """Write ``request``'s body to ``out``; None (stop reading) once it is larger than the bound,
    already from its Content-Length. The bound is read here, at each upload (a test may lower it)."""
    limit = MAX_OBJECT_BYTES
    if request.content_length is not None and request.content_length > limit:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    # Local disk writes and hashing of one chunk are short enough to do on the loop.
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        out.write(chunk)
        digest.update(chunk)
    return Received(size, digest.hexdigest())
