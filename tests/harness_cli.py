"""`milvus-spcs` as a user runs it: `python -m milvus_spcs.cli` in a subprocess, its output captured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "milvus_spcs.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
