"""pytest-docker's fixtures, pointed at images/compose.yaml: every docker test skips, with the reason,
when no Docker engine (or compose plugin) answers, and the compose project always comes down, with its
volumes, its logs saved into the run's artifacts first, even when `up` fails half-way."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fixtures.options import harness_config_of
from milvus_spcs.docker_engine import docker_engine_problem
from milvus_spcs.errors import HarnessError

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "images" / "compose.yaml"
READY_SECONDS = 300  # Milvus's start period is 90 s; the health checks retry after it
# pytest-docker runs its commands without a time limit; a hung pull or build must not hang CI.
BUILD_SECONDS = 1800


def docker_problem() -> str | None:
    """What is missing to run these tests here, or None."""
    problem = docker_engine_problem()
    if problem:
        return f"needs a Docker engine: {problem}"
    if shutil.which("docker") is None:
        return "needs the docker CLI on PATH"
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    if version.returncode != 0:
        return f"needs the Docker Compose plugin (docker compose version: {version.stderr.strip()})"
    return None


@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    """Every pytest-docker fixture starts here: without an engine, skip before any command runs. The
    coreutils ``timeout`` bounds each command pytest-docker runs (it passes none of its own)."""
    problem = docker_problem()
    if problem:
        pytest.skip(problem)
    return f"timeout {BUILD_SECONDS} docker compose"


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"milvus-spcs-{secrets.token_hex(4)}"  # parallel runs cannot clash


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    # --wait: until both health checks (the specs' readiness probes) pass.
    return [f"up --build --detach --wait --wait-timeout {READY_SECONDS}"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    # None here: compose_always_down saves the logs and then brings the project down, once, in every case.
    return []


@dataclass(frozen=True)
class ComposeStack:
    project: str
    services: Any  # pytest_docker.plugin.Services

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        command = ["docker", "compose", "-f", str(COMPOSE_FILE), "-p", self.project, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise HarnessError(
                f"docker compose {' '.join(args[:2])} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def publishers(self) -> list[dict[str, Any]]:
        """Every published port: service, URL (host address), TargetPort, PublishedPort."""
        text = self.run("ps", "--all", "--format", "json").strip()
        # Compose prints a JSON array (older versions) or one JSON object per line (newer ones).
        rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines()]
        return [
            {**publisher, "Service": row["Service"]}
            for row in rows
            for publisher in row.get("Publishers") or []
            if publisher.get("PublishedPort")
        ]

    def python_in(self, service: str, code: str, *args: str, timeout: float = 60) -> str:
        return self.run("exec", "-T", service, "python", "-c", code, *args, timeout=timeout)


@pytest.fixture(scope="session")
def compose_always_down(
    pytestconfig: pytest.Config, docker_compose_command: str, docker_compose_project_name: str
) -> Iterator[None]:
    """Set up before docker_services, torn down after it: the project's only cleanup (pytest-docker's
    is off, and it runs none when `up` fails), so the logs are saved before `down` removes them."""
    yield
    compose = ComposeStack(docker_compose_project_name, None)
    artifacts = harness_config_of(pytestconfig).run_artifacts
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "compose.log").write_text(compose.run("logs", "--no-color", check=False))
    compose.run("down", "--volumes", "--remove-orphans", "--timeout", "30", check=False)


@pytest.fixture(scope="session")
def stack(compose_always_down: None, docker_services: Any, docker_compose_project_name: str) -> ComposeStack:
    return ComposeStack(docker_compose_project_name, docker_services)
