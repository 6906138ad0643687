"""Build both images for linux/amd64 and push them to an SPCS image repository: a real account's, or
the emulator's registry (the same code path: docker login, tag, push, check).

Registry auth the way `snow spcs image-registry login` does it: `docker login` with the user
`0sessiontoken` and, on stdin, `{"token": "<session token>"}` (reference/snowflake.md §10.2), so MFA
and key-pair users need no registry password. The login lands in a docker client configuration of
its own (a temporary DOCKER_CONFIG), never in the user's ~/.docker, and is gone with it. The session
stays open until the pushes are done: closing it logs the token out. Needs a Docker engine; without
one it stops before contacting Snowflake, naming the missing engine.

After each push it checks what SPCS users trip on (reference/pitfalls.md §1.3): the image is
linux/amd64, the digest the push reported is the one `SHOW IMAGES IN IMAGE REPOSITORY` lists, and a
Snowflake registry host names the account in lower case with hyphens. The local tag under the
registry's name is removed again: only `milvus-spcs/<image>:dev` stays on the engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from milvus_spcs.docker_engine import docker_engine_problem
from milvus_spcs.errors import HarnessError, PreflightError
from milvus_spcs.images import standins
from milvus_spcs.images.build import DEFAULT_TAG, RECIPES, build_images, image_reference
from milvus_spcs.images.commands import BuildLog
from milvus_spcs.target import Target, token_of

PUSH_SECONDS = 1800  # the Jupyter image is ~3 GB (torch)
SNOWFLAKE_REGISTRY = re.compile(r"^(?P<account>[^.]+)\.registry(?:\.privatelink)?\.snowflakecomputing\.com$")


@dataclass(frozen=True)
class PushedImage:
    reference: str  # <repository_url>/<image>:<tag>
    digest: str


def _docker(args: list[str], *, env: dict[str, str], stdin: str | None = None, timeout: float = 600) -> str:
    """One docker CLI call; its output (never a secret: those go through stdin) on success."""
    try:
        done = subprocess.run(
            ["docker", *args], input=stdin, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise HarnessError(f"docker {args[0]}: no result within {timeout:.0f}s") from None
    if done.returncode != 0:
        raise HarnessError(f"docker {' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def registry_host_problem(host: str) -> str | None:
    """A Snowflake registry host must be lower case with hyphens: docker refuses upper case, and an
    account name's underscores become hyphens (``org-my_acct`` -> ``org-my-acct``)."""
    found = SNOWFLAKE_REGISTRY.match(host)
    if found is None:
        return None
    account = found["account"]
    if account != account.lower() or "_" in account:
        fixed = account.lower().replace("_", "-")
        return f"registry host {host!r}: the account part must be lower case with hyphens ({fixed!r})"
    return None


def _rows(conn: Any, sql: str) -> list[dict[str, Any]]:
    cur = conn.cursor()
    cur.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _repository_url(conn: Any, repository: str) -> str:
    from snowflake.connector.errors import ProgrammingError

    database, schema, repo = repository.split(".")
    try:
        listed = _rows(conn, f"SHOW IMAGE REPOSITORIES IN SCHEMA {database}.{schema}")
    except ProgrammingError as exc:  # no such database or schema, or not visible to the role
        raise PreflightError(
            f"no image repository {repository}: {exc.msg}", [f"CREATE IMAGE REPOSITORY {repository}"]
        ) from None
    match = [r for r in listed if r["name"] == repo.upper()]
    if not match:
        raise PreflightError(f"no image repository {repository}", [f"CREATE IMAGE REPOSITORY {repository}"])
    return str(match[0]["repository_url"])


def _listed_digest(conn: Any, repository: str, image: str, tag: str) -> str | None:
    for row in _rows(conn, f"SHOW IMAGES IN IMAGE REPOSITORY {repository}"):
        if row.get("image_name") == image and tag in json.loads(row.get("tags") or "[]"):
            return str(row.get("digest"))
    return None


def _pushed_digest(output: str, reference: str) -> str:
    found = re.search(r"digest: (sha256:[0-9a-f]{64})", output)
    if found is None:
        raise HarnessError(f"docker push {reference} reported no digest:\n{output[-1000:]}")
    return found.group(1)


def _check_platform(local: str, env: dict[str, str]) -> None:
    platform = _docker(["image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", local], env=env).strip()
    if platform != "linux/amd64":
        raise PreflightError(f"{local} is {platform}: SPCS runs linux/amd64 images only")


@dataclass
class RegistrySession:
    """A docker login to the repository's registry, in a docker configuration of its own, while the
    Snowflake session whose token it used stays open."""

    conn: Any
    repository: str
    url: str
    env: dict[str, str]

    def push(self, source: str, name: str, tag: str) -> PushedImage:
        """Push the local image ``source`` as ``<repository_url>/<name>:<tag>`` and check it."""
        _check_platform(source, self.env)
        remote = f"{self.url}/{name}:{tag}"
        _docker(["tag", source, remote], env=self.env)
        try:
            digest = _pushed_digest(_docker(["push", remote], env=self.env, timeout=PUSH_SECONDS), remote)
        finally:
            _docker(["rmi", remote], env=self.env)  # the local name of the run's tag
        listed = _listed_digest(self.conn, self.repository, name, tag)
        if listed != digest:
            raise HarnessError(
                f"{remote}: the push reported {digest}, SHOW IMAGES lists {listed or 'nothing'}"
            )
        return PushedImage(remote, digest)


@contextlib.contextmanager
def registry_session(target: Target, repository: str) -> Iterator[RegistrySession]:
    """Log in to ``repository``'s registry with a fresh session's token; log out (the temporary docker
    configuration goes) and close the session afterwards."""
    problem = docker_engine_problem()
    if problem:
        raise PreflightError(f"building images needs a Docker engine: {problem}")
    with tempfile.TemporaryDirectory(prefix="milvus-spcs-docker-") as config:
        env = {**os.environ, "DOCKER_CONFIG": config}
        conn = target.connect()
        # The registry accepts the session token only while the session lives: closing the connection
        # logs it out, so it stays open until the last push is done.
        try:
            url = _repository_url(conn, repository)
            host = url.split("/", 1)[0]
            problem = registry_host_problem(host)
            if problem:
                raise PreflightError(problem)
            token = token_of(conn)
            try:
                _docker(
                    ["login", host, "--username", "0sessiontoken", "--password-stdin"],
                    env=env,
                    stdin=json.dumps({"token": str(token)}),
                )
            except HarnessError as exc:
                raise PreflightError(
                    f"docker login {host} failed: {exc}",
                    [
                        "an emulator serves a registry only where docker-registry is installed: "
                        "bash scripts/install-docker.sh"
                    ],
                ) from None
            yield RegistrySession(conn, repository, url, env)
        finally:
            conn.close()


def push_images(
    target: Target,
    repository: str,
    tag: str,
    *,
    bases: str = "auto",
    log: BuildLog | None = None,
    built: Callable[[], list[str]] | None = None,
) -> list[PushedImage]:
    """Build (``bases``: real, local or auto) and push both images as ``<repository_url>/<name>:<tag>``.

    ``built``: returns the local references instead of building (tests, or images built beforehand).
    """
    log = log or BuildLog.dated(standins.LOGS, "push")
    # The engine is checked, the repository found and the registry logged in to before the build
    # (minutes): a wrong repository is refused at once.
    with registry_session(target, repository) as session:
        local = built() if built else [b.reference for b in build_images(bases, DEFAULT_TAG, log)]
        return [session.push(source, recipe.name, tag) for recipe, source in zip(RECIPES, local, strict=True)]


def local_images(tag: str = DEFAULT_TAG) -> list[str]:
    """The references `milvus-spcs images build` gives both images."""
    return [image_reference(recipe.name, tag) for recipe in RECIPES]
