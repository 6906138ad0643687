"""pytest-docker's fixtures, pointed at images/compose.yaml: the images are built on the bases that
--image-bases chooses (stand-ins where the real ones cannot be pulled), every docker test skips, with
the reason, when no Docker engine (or compose) answers, and the compose project always comes down, with
its volumes, its logs saved into the run's artifacts first, even when `up` fails half-way.

Compose v2 (`docker compose`) where the plugin exists, else v1 (`docker-compose`, Debian's package):
readiness is read from the containers' health checks here, not from v2's `up --wait`.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from milvus_spcs.docker_engine import describe_image, docker_client, docker_engine_problem
from milvus_spcs.errors import HarnessError
from milvus_spcs.images.build import Base, choose_bases, compose_environment
from milvus_spcs.images.commands import BuildLog
from milvus_spcs.pytest_fixtures.options import harness_config_of
from milvus_spcs.waits import Probe, wait_for

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "images" / "compose.yaml"
SERVICES = ("milvus", "jupyter")
READY_SECONDS = 300  # Milvus's start period is 90 s; the health checks retry after it
# pytest-docker runs its commands without a time limit; a hung build must not hang CI.
BUILD_SECONDS = 1800


@functools.cache  # asked before every compose command; the answer does not change within a run
def compose_command() -> tuple[str, ...] | None:
    """`docker compose` (v2) where the plugin answers, else `docker-compose` (v1), else None."""
    if shutil.which("docker"):
        done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return ("docker", "compose")
    return ("docker-compose",) if shutil.which("docker-compose") else None


def docker_problem() -> str | None:
    """What is missing to run these tests here, or None."""
    problem = docker_engine_problem()
    if problem:
        return f"needs a Docker engine: {problem} (bash scripts/install-docker.sh)"
    if compose_command() is None:
        return "needs Docker Compose, the plugin or docker-compose (bash scripts/install-docker.sh)"
    return None


@pytest.fixture(scope="session")
def image_bases(pytestconfig: pytest.Config) -> dict[str, Base]:
    """The bases compose builds on: real ones, or stand-ins built (and cached) first."""
    problem = docker_problem()
    if problem:
        pytest.skip(problem)
    config = harness_config_of(pytestconfig)
    return choose_bases(config.image_bases, BuildLog(config.run_artifacts / "images-build.log"))


@pytest.fixture(scope="session")
def compose_env(image_bases: dict[str, Base]) -> dict[str, str]:
    return compose_environment(image_bases)


@pytest.fixture(scope="session")
def docker_compose_command(compose_env: dict[str, str]) -> str:
    """Every pytest-docker fixture starts here: without an engine, skip before any command runs. The
    bases go in through the environment; coreutils ``timeout`` bounds each command pytest-docker runs
    (it passes none of its own)."""
    command = compose_command() or ()
    assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in compose_env.items())
    return f"env {assignments} timeout {BUILD_SECONDS} {shlex.join(command)}"


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name(pytestconfig: pytest.Config) -> str:
    return f"milvus-spcs-{harness_config_of(pytestconfig).run_id}"  # parallel runs cannot clash


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    return ["up --build --detach"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    # None here: compose_always_down saves the logs, then brings the project down (its volumes and the
    # images it built), once, in every case.
    return []


@dataclass(frozen=True)
class ComposeStack:
    project: str
    env: dict[str, str]
    services: Any  # pytest_docker.plugin.Services

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        command = [*(compose_command() or ()), "-f", str(COMPOSE_FILE), "-p", self.project, *args]
        env = {**os.environ, **self.env}
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, env=env)
        if check and done.returncode != 0:
            raise HarnessError(
                f"docker compose {' '.join(args[:2])} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def containers(self) -> dict[str, Any]:
        """The project's containers by service name (docker-py objects)."""
        client = docker_client()
        try:
            found = client.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={self.project}"}
            )
        finally:
            client.close()
        return {c.labels["com.docker.compose.service"]: c for c in found}

    def publishers(self) -> list[dict[str, Any]]:
        """Every published port: Service, URL (host address), TargetPort, PublishedPort."""
        published = []
        for service, container in self.containers().items():
            container.reload()
            for port, bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).items():
                for binding in bindings or []:
                    published.append(
                        {
                            "Service": service,
                            "URL": binding["HostIp"],
                            "TargetPort": int(port.split("/")[0]),
                            "PublishedPort": int(binding["HostPort"]),
                        }
                    )
        return published

    def health(self) -> dict[str, str]:
        states = {}
        for service, container in self.containers().items():
            container.reload()
            state = container.attrs["State"]
            states[service] = (state.get("Health") or {}).get("Status") or state["Status"]
        return states

    def wait_healthy(self, timeout: float = READY_SECONDS) -> None:
        def probe() -> Probe[None]:
            states = self.health()
            done = all(states.get(service) == "healthy" for service in SERVICES)
            return Probe(done, None, ", ".join(f"{s}={states.get(s, 'absent')}" for s in SERVICES))

        wait_for(
            probe, what=f"compose project {self.project}: {', '.join(SERVICES)} healthy", timeout=timeout
        )

    def exec(self, service: str, *command: str, timeout: float = 60, check: bool = True) -> str:
        return self.run("exec", "-T", service, *command, timeout=timeout, check=check)

    def python_in(self, service: str, code: str, *args: str, timeout: float = 60) -> str:
        return self.exec(service, "python", "-c", code, *args, timeout=timeout)


@pytest.fixture(scope="session")
def compose_always_down(
    pytestconfig: pytest.Config,
    docker_compose_command: str,
    docker_compose_project_name: str,
    compose_env: dict[str, str],
) -> Iterator[None]:
    """Set up before docker_services, torn down after it: the project's only cleanup (pytest-docker's
    is off, and it runs none when `up` fails), so the logs are saved before `down` removes them."""
    yield
    compose = ComposeStack(docker_compose_project_name, compose_env, None)
    artifacts = harness_config_of(pytestconfig).run_artifacts
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "compose.log").write_text(compose.run("logs", "--no-color", check=False))
    # A short stop timeout: Milvus holding a loaded collection outlasts a 30 s one on SIGTERM (measured:
    # stopped only by the kill, 30 s at the end of the run), and its volume is removed right after, so
    # a graceful stop keeps nothing. The logs are saved above.
    compose.run("down", "--volumes", "--remove-orphans", "--rmi", "local", "--timeout", "5", check=False)


@pytest.fixture(scope="session")
def stack(
    pytestconfig: pytest.Config,
    compose_always_down: None,
    docker_services: Any,
    docker_compose_project_name: str,
    compose_env: dict[str, str],
) -> ComposeStack:
    compose = ComposeStack(docker_compose_project_name, compose_env, docker_services)
    compose.wait_healthy()
    # Which images ran, stand-ins named as such: on the terminal, past the output capture.
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    for service, container in sorted(compose.containers().items()):
        line = f"milvus-spcs: compose {service} image {describe_image(container.image.tags[0])}"
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)
    return compose
