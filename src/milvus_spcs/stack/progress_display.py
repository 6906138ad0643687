"""Which progress display a terminal gets: a live table on a TTY, plain timestamped lines otherwise
(CI logs, pipes), nothing when asked to be quiet. MILVUS_SPCS_PROGRESS=live|plain|off overrides."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import IO

from milvus_spcs.stack.progress import NoProgress, Progress
from milvus_spcs.stack.progress_lines import LineProgress

PROGRESS_ENV = "MILVUS_SPCS_PROGRESS"
CHOICES = ("live", "plain", "off")


def terminal_progress(
    write: Callable[[str], None],
    *,
    stream: IO[str] | None,
    tty: bool | None = None,
    quiet: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> Progress:
    """``write``: one plain line; ``stream``: what a live table draws on; ``tty``: whether it is a
    terminal (default: its isatty; pytest says so itself, its capture hides the terminal from us)."""
    if tty is None:
        tty = stream is not None and stream.isatty()
    choice = environ.get(PROGRESS_ENV, "").strip().lower()
    if choice not in CHOICES:
        choice = "off" if quiet else "live" if tty else "plain"
    if choice == "off":
        return NoProgress()
    if choice == "live" and stream is not None:
        from rich.console import Console

        from milvus_spcs.stack.progress_live import LiveProgress

        return LiveProgress(Console(file=stream))
    return LineProgress(write)
