"""The two images, built and run together (images/compose.yaml) the way SPCS runs them, before a push.

Jupyter reaches Milvus by its service name, the notebook runs inside the Jupyter image (packaged model,
no hub), and only loopback ports are published, never 9091 or 2379. Without a Docker engine (and its
compose plugin) every test here is skipped, naming what is missing.

Compose is driven through its CLI, as pytest-docker does: that needs no extra dependency, and the stack
comes down (with its volumes) even when `up` fails half-way.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymilvus import MilvusClient

from fixtures.options import harness_config_of
from milvus_spcs.backends.base import wait_until_serving
from milvus_spcs.backends.container import docker_engine_problem
from milvus_spcs.errors import HarnessError
from milvus_spcs.search.collection import drop_collection

pytestmark = [pytest.mark.docker, pytest.mark.slow]

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "images" / "compose.yaml"
BUILD_SECONDS = 1800  # a cold build downloads torch and Milvus layers
READY_SECONDS = 300  # Milvus's start period is 90 s; the health checks retry after it
NOTEBOOK = "/home/jupyter/work/TestMilvus.ipynb"
TURING = "Alan Turing was the first person to conduct substantial research in AI."
# Runs inside the Jupyter container, as its user, with the image's environment (MILVUS_URI=http://milvus:19530).
RUN_NOTEBOOK = """
import json, os, sys
from pathlib import Path
from milvus_spcs.notebook import execute_notebook
run = execute_notebook(Path(sys.argv[1]), milvus_uri=os.environ["MILVUS_URI"], collection=sys.argv[2])
print(json.dumps(run.result))
"""
# CVE-2026-26190's non-destructive probe: before the fix, /expr evaluates code with the default token.
EXPR_PROBE = """
import urllib.error, urllib.request
try:
    body = urllib.request.urlopen("http://milvus:9091/expr?code=1337%2B31337&auth=by-dev", timeout=5).read()
except urllib.error.HTTPError as exc:
    body = exc.read()
print(body.decode(errors="replace"))
"""


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


@dataclass(frozen=True)
class ComposeStack:
    project: str

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

    def host_port(self, service: str, port: int) -> int:
        for publisher in self.publishers():
            if publisher["Service"] == service and publisher["TargetPort"] == port:
                return int(publisher["PublishedPort"])
        raise HarnessError(f"{service}:{port} is not published")

    def python_in(self, service: str, code: str, *args: str, timeout: float = 60) -> str:
        return self.run("exec", "-T", service, "python", "-c", code, *args, timeout=timeout)


@pytest.fixture(scope="module")
def stack(pytestconfig: pytest.Config) -> Iterator[ComposeStack]:
    problem = docker_problem()
    if problem:
        pytest.skip(problem)
    compose = ComposeStack(f"milvus-spcs-{secrets.token_hex(4)}")
    try:
        # --wait: until both health checks (the specs' readiness probes) pass.
        compose.run(
            "up", "--build", "--detach", "--wait", "--wait-timeout", str(READY_SECONDS), timeout=BUILD_SECONDS
        )
        yield compose
    finally:
        artifacts = harness_config_of(pytestconfig).run_artifacts
        artifacts.mkdir(parents=True, exist_ok=True)
        (artifacts / "compose.log").write_text(compose.run("logs", "--no-color", check=False))
        compose.run("down", "--volumes", "--remove-orphans", "--timeout", "30", check=False)


@pytest.fixture(scope="module")
def milvus_uri(stack: ComposeStack) -> str:
    uri = f"http://127.0.0.1:{stack.host_port('milvus', 19530)}"
    wait_until_serving(uri, timeout=READY_SECONDS)  # healthy is not ready: ask for the collections
    return uri


def test_only_loopback_ports_are_published_and_never_health_or_etcd(stack: ComposeStack) -> None:
    published = stack.publishers()
    assert {(p["Service"], p["TargetPort"]) for p in published} == {("milvus", 19530), ("jupyter", 8888)}
    assert {p["URL"] for p in published} == {"127.0.0.1"}


def test_milvus_image_does_not_evaluate_expr_with_the_default_token(stack: ComposeStack) -> None:
    body = stack.python_in("jupyter", EXPR_PROBE)
    assert str(1337 + 31337) not in body, f"CVE-2026-26190: /expr evaluated code ({body[:200]!r})"


def test_jupyter_api_answers_without_a_token_on_loopback(stack: ComposeStack) -> None:
    url = f"http://127.0.0.1:{stack.host_port('jupyter', 8888)}"
    with urllib.request.urlopen(f"{url}/api", timeout=10) as response:
        assert "version" in json.load(response)
    # XSRF checks stay on (browsers reach it with ingress cookies): a bare POST is refused.
    bare_post = urllib.request.Request(f"{url}/api/kernels", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bare_post, timeout=10)
    assert refused.value.code == 403


def test_notebook_in_the_jupyter_image_finds_turing_through_milvus_by_service_name(
    stack: ComposeStack, milvus_uri: str
) -> None:
    collection = f"nb_{secrets.token_hex(6)}"
    client = MilvusClient(uri=milvus_uri)
    try:
        output = stack.python_in("jupyter", RUN_NOTEBOOK, NOTEBOOK, collection, timeout=600)
        result = json.loads(output.strip().splitlines()[-1])
        assert (result["inserted"], result["count"]) == (3, 3)
        assert (result["hits"][0]["id"], result["hits"][0]["text"]) == (1, TURING)
        # Written to the Milvus container that the host sees: the notebook used the service name.
        assert client.has_collection(collection)
    finally:
        drop_collection(client, collection)
        client.close()
