"""Build the two images for linux/amd64 and push them to an SPCS image repository.

Registry auth the way `snow spcs image-registry login` does it: `docker login` with the user
`0sessiontoken` and, on stdin, `{"token": "<session token>"}` (reference/snowflake.md §10.2), so MFA
and key-pair users need no registry password. The session stays open until the pushes are done:
closing it logs the token out. Needs a Docker engine; without one it stops before
contacting Snowflake, naming the missing engine.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from milvus_spcs.docker_engine import docker_engine_problem
from milvus_spcs.errors import HarnessError, PreflightError
from milvus_spcs.paths import REPO_ROOT
from milvus_spcs.target import Target, token_of


@dataclass(frozen=True)
class ImageBuild:
    name: str
    dockerfile: Path
    context: Path


BUILDS = (
    ImageBuild("milvus", REPO_ROOT / "images/milvus/Dockerfile", REPO_ROOT / "images/milvus"),
    # The Jupyter image installs this project, so its context is the repository root.
    ImageBuild("jupyter", REPO_ROOT / "images/jupyter/Dockerfile", REPO_ROOT),
)


def _run(args: list[str], *, stdin: str | None = None) -> None:
    done = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        raise HarnessError(f"{' '.join(args[:3])} ... failed ({done.returncode}): {done.stderr[-2000:]}")


def _repository_url(conn: Any, repository: str) -> str:
    database, schema, repo = repository.split(".")
    cur = conn.cursor()
    cur.execute(f"SHOW IMAGE REPOSITORIES IN SCHEMA {database}.{schema}")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    match = [r for r in rows if r["name"] == repo.upper()]
    if not match:
        raise PreflightError(f"no image repository {repository}", [f"CREATE IMAGE REPOSITORY {repository}"])
    return str(match[0]["repository_url"])


def _build_and_push(url: str, tag: str) -> list[str]:
    pushed = []
    for build in BUILDS:
        image = f"{url}/{build.name}:{tag}"
        _run(
            [
                "docker",
                "build",
                "--force-rm",
                "--platform",
                "linux/amd64",
                "-t",
                image,
                "-f",
                str(build.dockerfile),
                str(build.context),
            ]
        )
        _run(["docker", "push", image])
        pushed.append(image)
    return pushed


def push_images(target: Target, repository: str, tag: str) -> list[str]:
    problem = docker_engine_problem()
    if problem:
        raise PreflightError(f"building images needs a Docker engine: {problem}")
    conn = target.connect()
    # The registry accepts the session token only while the session lives: closing the connection
    # logs it out, so it stays open until the last push is done.
    try:
        url = _repository_url(conn, repository)
        token = token_of(conn)
        host = url.split("/", 1)[0]
        _run(
            ["docker", "login", host, "--username", "0sessiontoken", "--password-stdin"],
            stdin=json.dumps({"token": str(token)}),
        )
        return _build_and_push(url, tag)
    finally:
        conn.close()
