"""The Docker CLI as the docker-runtime tests drive it, and the image their test images are built on."""

from __future__ import annotations

import subprocess

# The Debian root filesystem the stand-in images are built on (`milvus-spcs images build`).
ROOTFS = "milvus-spcs/standin-rootfs:bookworm"


def docker(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """`docker ARGS`'s output, stripped; fails the test when the command fails."""
    done = subprocess.run(
        ["docker", *args], env=env, input=stdin, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
