"""The two images, built and run together (images/compose.yaml) the way SPCS runs them, before a push.

Jupyter reaches Milvus by its service name, the notebook runs inside the Jupyter image (packaged model,
no hub), and only loopback ports are published, never 9091 or 2379. Without a Docker engine (and its
compose plugin) every test here is skipped, naming what is missing.

Compose is driven by pytest-docker (conftest.py: its `docker_compose_file` and `docker_services`
fixtures, `up --build --wait`, then `down --volumes`); readiness beyond the health checks goes through
its `wait_until_responsive`.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from typing import Any

import pytest
from pymilvus import MilvusClient, MilvusException

from milvus_spcs.search.collection import drop_collection
from suites.docker.conftest import READY_SECONDS, ComposeStack

pytestmark = [pytest.mark.docker, pytest.mark.slow]

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


def milvus_answers(uri: str) -> bool:
    """Ready means ``list_collections`` answers: a health check can pass while the proxy cannot."""
    try:
        client = MilvusClient(uri=uri, timeout=2)
        try:
            client.list_collections()
        finally:
            client.close()
    except (MilvusException, ConnectionError):  # not yet: wait_until_responsive asks again
        return False
    return True


@pytest.fixture(scope="module")
def milvus_uri(stack: ComposeStack, docker_services: Any) -> str:
    uri = f"http://127.0.0.1:{docker_services.port_for('milvus', 19530)}"
    docker_services.wait_until_responsive(check=lambda: milvus_answers(uri), timeout=READY_SECONDS, pause=1.0)
    return uri


def test_only_loopback_ports_are_published_and_never_health_or_etcd(stack: ComposeStack) -> None:
    published = stack.publishers()
    assert {(p["Service"], p["TargetPort"]) for p in published} == {("milvus", 19530), ("jupyter", 8888)}
    assert {p["URL"] for p in published} == {"127.0.0.1"}


def test_milvus_image_does_not_evaluate_expr_with_the_default_token(stack: ComposeStack) -> None:
    body = stack.python_in("jupyter", EXPR_PROBE)
    assert str(1337 + 31337) not in body, f"CVE-2026-26190: /expr evaluated code ({body[:200]!r})"


def test_jupyter_api_answers_without_a_token_on_loopback(stack: ComposeStack) -> None:
    url = f"http://127.0.0.1:{stack.services.port_for('jupyter', 8888)}"
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
