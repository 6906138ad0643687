"""Run ids: short, random, and part of every name the harness creates."""

from __future__ import annotations

import re
import secrets

RUN_ID_PATTERN = re.compile(r"^[a-z0-9]{6}$")


def new_run_id() -> str:
    """Six lowercase base-36-ish characters: short enough for identifiers, random enough per run."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(6))


def check_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.match(run_id):
        raise ValueError(f"run id {run_id!r} must be 6 characters of [a-z0-9]")
    return run_id
