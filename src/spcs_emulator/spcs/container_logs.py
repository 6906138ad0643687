"""Container logs as SYSTEM$GET_SERVICE_LOGS serves them: current and previous run, optional timestamps.

Each run's merged stdout+stderr is read by a thread that stamps every line with its arrival time (UTC,
nanoseconds, ``2024-10-22T01:12:29.873896187Z``) and appends it to ``<log_dir>/<stem>.log``. Stamping
on arrival is what makes ``include_timestamps`` and the snow CLI's ``--follow`` (which compares
timestamps) meaningful. When a run ends and the container restarts, the file becomes
``<stem>.previous.log`` (Kubernetes keeps exactly one previous log too).

A container's output is hostile input, so nothing here grows with it (the emulator's own bounds):

- the pipe is read in lines of at most ``LINE_MAX_BYTES``; a longer line is split into several, as
  containerd and Docker's json-file driver split at 16 KiB;
- a log file is capped at ``LOG_FILE_MAX_BYTES``: a fuller one becomes ``<stem>.log.1`` (the one
  rotated file kept, replacing the last) and a new file starts, as the kubelet rotates
  (``containerLogMaxSize``); a run keeps at most two files, and so does the previous run;
- the last N lines are read backwards from the end, at most ``TAIL_MAX_BYTES``, whatever the size of
  the files or of a line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO

TIMESTAMP_LENGTH = len("2024-10-22T01:12:29.873896187Z")
LINE_MAX_BYTES = 16 * 1024
LOG_FILE_MAX_BYTES = 4 * 1024 * 1024
TAIL_MAX_BYTES = 1024 * 1024
# SYSTEM$GET_SERVICE_LOGS without a number of lines: "Up to 100 KB of the most recent log lines".
DEFAULT_TAIL_BYTES = 100 * 1024
_TAIL_BLOCK = 64 * 1024
_RUN_MAX_BYTES = 2 * (LOG_FILE_MAX_BYTES + TIMESTAMP_LENGTH + 1 + LINE_MAX_BYTES)


def timestamp(ns: int | None = None) -> str:
    """ISO-8601 UTC with nanoseconds, as SPCS prefixes log lines."""
    ns = time.time_ns() if ns is None else ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def last_bytes(text: str, budget: int) -> str:
    """The most recent whole lines of ``text`` that fit in ``budget`` bytes (UTF-8)."""
    raw = text.encode()
    if len(raw) <= budget:
        return text
    cut = raw[-budget:]
    return cut[cut.find(b"\n") + 1 :].decode(errors="replace")


class LogFiles:
    """The current and previous log file of one container instance, each with its one rotated file."""

    def __init__(self, log_dir: Path, stem: str) -> None:
        self.current = log_dir / f"{stem}.log"
        self.current_rotated = log_dir / f"{stem}.log.1"
        self.previous = log_dir / f"{stem}.previous.log"
        self.previous_rotated = log_dir / f"{stem}.previous.log.1"
        log_dir.mkdir(parents=True, exist_ok=True)

    def reset(self) -> None:
        """A new launch starts without logs (a new pod has no previous container)."""
        for path in (self.previous, self.previous_rotated, self.current_rotated):
            path.unlink(missing_ok=True)
        self.current.write_bytes(b"")

    def rotate(self) -> None:
        """Keep the run that just ended as the previous log; the next run starts an empty current log."""
        if self.current.exists():
            self.current.replace(self.previous)
        if self.current_rotated.exists():
            self.current_rotated.replace(self.previous_rotated)
        else:
            self.previous_rotated.unlink(missing_ok=True)
        self.current.write_bytes(b"")

    def rotate_full(self) -> None:
        """The current file is full: it becomes the rotated one (the older one goes)."""
        with contextlib.suppress(FileNotFoundError):
            self.current.replace(self.current_rotated)

    def read(self, *, previous: bool = False, lines: int | None = None, timestamps: bool = False) -> str:
        """A run's log (bounded by the files' cap), or its last ``lines`` (at most TAIL_MAX_BYTES)."""
        paths = [self.previous_rotated, self.previous] if previous else [self.current_rotated, self.current]
        if lines is None:  # the whole run: at most its two files
            raw = _tail(paths, sys.maxsize, _RUN_MAX_BYTES)
        else:
            raw = _tail(paths, lines, TAIL_MAX_BYTES)
        text = raw.decode("utf-8", errors="replace")
        if not timestamps:
            text = "".join(line[TIMESTAMP_LENGTH + 1 :] for line in text.splitlines(keepends=True))
        return text


def _tail(paths: list[Path], lines: int, budget: int) -> bytes:
    """The last ``lines`` whole lines of the files ``paths`` (oldest first) taken as one, reading
    backwards from the end in blocks, at most ``budget`` bytes: the work is the same for any file size."""
    if lines <= 0:
        return b""
    blocks: list[bytes] = []  # newest first: joined once, never prepended to (that was quadratic)
    newlines = taken = 0
    partial = False  # older bytes are left unread: the oldest line read may be cut
    for path in reversed(paths):
        if newlines > lines or taken >= budget:
            partial = True
            break
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            continue
        with fh:
            end = fh.seek(0, os.SEEK_END)
            while end > 0 and newlines <= lines and taken < budget:
                start = max(0, end - min(_TAIL_BLOCK, budget - taken))
                fh.seek(start)
                block = fh.read(end - start)
                blocks.append(block)
                newlines += block.count(b"\n")
                taken += len(block)
                end = start
            partial = end > 0
    kept = b"".join(reversed(blocks)).splitlines(keepends=True)
    if partial:
        kept = kept[1:]
    return b"".join(kept[-lines:])


class LineStamper:
    """A thread copying one run's output pipe into the current log, one stamped line at a time.

    Reads at most LINE_MAX_BYTES at a time (a longer line is split) and rotates the file once it holds
    LOG_FILE_MAX_BYTES: neither the emulator's memory nor the disk grows with what a container writes.
    """

    def __init__(self, pipe: IO[bytes], files: LogFiles, name: str) -> None:
        self._pipe = pipe
        self._files = files
        self._thread = threading.Thread(target=self._run, name=f"logs-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        out = self._files.current.open("ab", buffering=0)
        try:
            with self._pipe:
                for line in iter(lambda: self._pipe.readline(LINE_MAX_BYTES), b""):
                    if not line.endswith(b"\n"):
                        line += b"\n"  # a line cut at the cap, or the last of a run that died mid-line
                    out.write(timestamp().encode() + b" " + line)
                    if out.tell() >= LOG_FILE_MAX_BYTES:  # O_APPEND: tell() is the file's end
                        out.close()
                        self._files.rotate_full()
                        out = self._files.current.open("ab", buffering=0)
        finally:
            out.close()

    def join(self, timeout: float) -> bool:
        """Wait for the pipe to reach EOF (every writer gone); True when the thread has finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
