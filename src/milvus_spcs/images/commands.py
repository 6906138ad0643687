"""External commands of an image build (docker, mmdebstrap, pip), their output kept in one log file."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from milvus_spcs.errors import HarnessError

TAIL_LINES = 40


@dataclass(frozen=True)
class BuildLog:
    path: Path

    @classmethod
    def dated(cls, folder: Path, kind: str) -> BuildLog:
        """``<folder>/<kind>-<UTC time>.log``: one per command, in the harness's own cache (not a
        fixed name in a shared temporary folder, which another user could have put a link at)."""
        from datetime import UTC, datetime

        return cls(folder / f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log")

    def run(self, args: list[str], *, what: str, timeout: float, stdin: str | None = None) -> None:
        """Run ``args``, its output appended to the log; a failure or the deadline raises with the
        log's last lines."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as log:
            log.write(f"\n$ {' '.join(args)}\n")
            log.flush()
            try:
                done = subprocess.run(
                    args,
                    input=stdin,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise HarnessError(f"{what}: no result within {timeout:.0f}s\n{self.tail()}") from None
            except FileNotFoundError:
                raise HarnessError(
                    f"{what}: {args[0]} is not installed (bash scripts/install-docker.sh)"
                ) from None
        if done.returncode != 0:
            raise HarnessError(f"{what} failed (exit {done.returncode})\n{self.tail()}")

    def output(self, args: list[str], *, what: str, timeout: float) -> str:
        """Run ``args`` and return its standard output (its errors go to the log)."""
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"{what}: no result within {timeout:.0f}s") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as log:
            log.write(f"\n$ {' '.join(args)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise HarnessError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        return done.stdout.strip()

    def tail(self) -> str:
        lines = self.path.read_text(errors="replace").splitlines()[-TAIL_LINES:]
        return f"last lines of {self.path}:\n" + "\n".join(lines)
