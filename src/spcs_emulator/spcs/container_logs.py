"""Container logs as SYSTEM$GET_SERVICE_LOGS serves them: current and previous run, optional timestamps.

Each run's merged stdout+stderr is read line by line by a thread that stamps every line with its
arrival time (UTC, nanoseconds, ``2024-10-22T01:12:29.873896187Z``) and appends it to
``<log_dir>/<stem>.log``. Stamping on arrival is what makes ``include_timestamps`` and the snow CLI's
``--follow`` (which compares timestamps) meaningful. When a run ends and the container restarts, the file
becomes ``<stem>.previous.log`` (Kubernetes keeps exactly one previous log too).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import IO

TIMESTAMP_LENGTH = len("2024-10-22T01:12:29.873896187Z")
_TAIL_BLOCK = 64 * 1024


def timestamp(ns: int | None = None) -> str:
    """ISO-8601 UTC with nanoseconds, as SPCS prefixes log lines."""
    ns = time.time_ns() if ns is None else ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


class LogFiles:
    """The current and previous log file of one container instance."""

    def __init__(self, log_dir: Path, stem: str) -> None:
        self.current = log_dir / f"{stem}.log"
        self.previous = log_dir / f"{stem}.previous.log"
        log_dir.mkdir(parents=True, exist_ok=True)

    def reset(self) -> None:
        """A new launch starts without logs (a new pod has no previous container)."""
        self.previous.unlink(missing_ok=True)
        self.current.write_bytes(b"")

    def rotate(self) -> None:
        """Keep the run that just ended as the previous log; the next run starts an empty current log."""
        if self.current.exists():
            self.current.replace(self.previous)
        self.current.write_bytes(b"")

    def read(self, *, previous: bool = False, lines: int | None = None, timestamps: bool = False) -> str:
        path = self.previous if previous else self.current
        try:
            raw = _tail(path, lines)
        except FileNotFoundError:
            return ""
        text = raw.decode("utf-8", errors="replace")
        if not timestamps:
            text = "".join(line[TIMESTAMP_LENGTH + 1 :] for line in text.splitlines(keepends=True))
        return text


def _tail(path: Path, lines: int | None) -> bytes:
    """The last ``lines`` lines of ``path`` (all when None), reading only the end of a large file."""
    with path.open("rb") as fh:
        if lines is None:
            return fh.read()
        if lines <= 0:
            return b""
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= lines:
            start = max(0, end - _TAIL_BLOCK)
            fh.seek(start)
            data = fh.read(end - start) + data
            end = start
    kept = data.splitlines(keepends=True)[-lines:]
    return b"".join(kept)


class LineStamper:
    """A thread copying one run's output pipe into the current log, one stamped line at a time."""

    def __init__(self, pipe: IO[bytes], path: Path, name: str) -> None:
        self._pipe = pipe
        self._path = path
        self._thread = threading.Thread(target=self._run, name=f"logs-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._path.open("ab", buffering=0) as out, self._pipe:
            for line in iter(self._pipe.readline, b""):
                if not line.endswith(b"\n"):
                    line += b"\n"  # the last line of a run that died mid-line
                out.write(timestamp().encode() + b" " + line)

    def join(self, timeout: float) -> bool:
        """Wait for the pipe to reach EOF (every writer gone); True when the thread has finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
