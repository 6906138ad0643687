"""The real Snowflake CLI (`snow`, in its own virtualenv: it pins an older connector), where it is."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def snow_executable() -> str | None:
    candidates = [
        os.environ.get("MILVUS_SPCS_SNOW"),
        str(REPO / ".venvs/snow/bin/snow"),
        shutil.which("snow"),
    ]
    return next((c for c in candidates if c and Path(c).is_file()), None)


SNOW = snow_executable()


def required_snow() -> str:
    """The path of `snow`; fails the test without it."""
    # scripts/install.sh (the README's install) puts snow in .venvs/snow: missing is a broken setup.
    if SNOW is None:
        pytest.fail("the Snowflake CLI is missing: run bash scripts/install.sh (it installs .venvs/snow)")
    return SNOW


def run_snow(home: Path, *args: str, connection: str = "emu") -> str:
    """`snow ARGS -c CONNECTION --format JSON` with ``home`` as SNOWFLAKE_HOME (its connections.toml);
    its standard output, failing the test when it fails."""
    done = subprocess.run(
        [required_snow(), *args, "-c", connection, "--format", "JSON"],
        env={**os.environ, "SNOWFLAKE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    return done.stdout
