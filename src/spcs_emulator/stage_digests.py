"""The MD5 of each stage file, as LIST shows it: taken while the S3 stand-in receives the file (as S3
takes an object's ETag), so that LIST, which runs under the account's lock, costs a ``stat`` per file
instead of reading every byte of the stage (a user with a few large files could otherwise hold the
account for seconds at every LIST).

Entries are keyed by the file's identity (device, inode) and valid while its size, mtime and ctime are
the ones recorded: any change to the file (a write, a rename over it, ``touch``) changes its ctime, which
no one can set back, so a stale digest is never shown. A file that arrived another way (the ``LOCAL_FS``
transport, a state directory from an earlier run) is hashed once, in chunks, then remembered.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections import OrderedDict
from pathlib import Path

# The emulator's own bound: entries beyond it are dropped oldest first (and hashed again if listed).
MAX_ENTRIES = 100_000
_CHUNK = 1024 * 1024

_Key = tuple[int, int]
_Version = tuple[int, int, int]


class _Digests:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # uploads record on the event loop, LIST reads on a worker thread
        self._entries: OrderedDict[_Key, tuple[_Version, str]] = OrderedDict()

    def get(self, status: os.stat_result) -> str | None:
        key, version = _identity(status)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, status: os.stat_result, md5: str) -> None:
        key, version = _identity(status)
        with self._lock:
            self._entries[key] = (version, md5)
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)


_DIGESTS = _Digests()


def _identity(status: os.stat_result) -> tuple[_Key, _Version]:
    return (status.st_dev, status.st_ino), (status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def remember(path: Path, md5: str, size: int) -> None:
    """``path`` was just written with these ``size`` bytes whose MD5 is ``md5`` (hex)."""
    try:
        status = os.stat(path, follow_symlinks=False)
    except OSError:
        return
    if stat.S_ISREG(status.st_mode) and status.st_size == size:
        _DIGESTS.put(status, md5)


def md5_of(path: Path) -> tuple[str, os.stat_result] | None:
    """The MD5 (hex) and status of the regular file at ``path``, or None if it no longer is one (e.g.
    swapped for a symlink: never followed)."""
    try:
        status = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    known = _DIGESTS.get(status)
    if known is not None:
        return known, status
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            return None
        digest = hashlib.md5(usedforsecurity=False)
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    # Recorded under the status from before the read: a change while reading makes the entry stale.
    _DIGESTS.put(status, digest.hexdigest())
    return digest.hexdigest(), status
