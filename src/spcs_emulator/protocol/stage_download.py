"""One object the connector fetches for a GET: a stage file the GET's answer named, read only if it is still a regular file inside its stage (no symlink anywhere on its way, none planted
since the GET was answered), streamed in chunks."""

from __future__ import annotations

import os
import stat
from email.utils import formatdate
from pathlib import Path

from aiohttp import web

_CHUNK = 256 * 1024


def open_inside(root: Path, relative: str) -> int | None:
    """A read descriptor of ``root/relative``, or None unless it is a regular file that resolves inside
    ``root`` (not itself a symlink, and reached through no symlink: resolving the path must not move it)."""
    if root.is_symlink():
        return None
    path = root / relative
    real_root = root.resolve()
    if path.resolve() != real_root.joinpath(*Path(relative).parts):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    opened = os.fstat(fd)
    # O_NOFOLLOW guards the last component only: a folder on the way swapped for a symlink between the
    # check above and the open would lead elsewhere, so what was opened must be what was checked.
    try:
        checked = os.stat(real_root.joinpath(*Path(relative).parts), follow_symlinks=False)
    except OSError:
        checked = None
    if (
        not stat.S_ISREG(opened.st_mode)
        or checked is None
        or (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino)
    ):
        os.close(fd)
        return None
    return fd


async def send(request: web.Request, fd: int) -> web.StreamResponse:
    """Stream the open file ``fd`` (closed afterwards) as a GetObject answer; its headers only for HEAD."""
    with os.fdopen(fd, "rb") as source:
        status = os.fstat(source.fileno())
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "application/octet-stream",
                "Last-Modified": formatdate(status.st_mtime, usegmt=True),
            },
        )
        response.content_length = status.st_size
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        # Local reads of one chunk are short enough to do on the loop (as the upload's writes).
        remaining = status.st_size  # never more than announced, even if the file grows meanwhile
        while remaining > 0 and (chunk := source.read(min(_CHUNK, remaining))):
            remaining -= len(chunk)
            await response.write(chunk)
        await response.write_eof()
    return response
