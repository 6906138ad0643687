"""The two images, built and run together (images/compose.yaml) the way SPCS runs them, before a push.

Jupyter reaches Milvus by its service name, the notebook runs inside the Jupyter image (packaged model,
no hub), Milvus has no route out and publishes nothing, Jupyter only on loopback, and Milvus's data
survive a restart of its container (the block volume). Without a Docker engine (and compose) every
test here is skipped, naming what is missing.

Compose is driven by pytest-docker (conftest.py: its `docker_compose_file` and `docker_services`
fixtures, `up --build`, then `down --volumes`); the images' bases come from --image-bases.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request

import pytest

from milvus_spcs.images.build import Base
from milvus_spcs.specs import milvus_tag_problem
from suites.docker.conftest import ComposeStack

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
# Inside the Jupyter container: the collection's row count, read with Strong consistency after a load.
COUNT_ROWS = """
import os, sys
from pymilvus import MilvusClient
client = MilvusClient(uri=os.environ["MILVUS_URI"], timeout=30)
if not client.has_collection(sys.argv[1]):
    print(-1)
else:
    client.load_collection(sys.argv[1])
    rows = client.query(sys.argv[1], filter="", output_fields=["count(*)"], consistency_level="Strong")
    print(rows[0]["count(*)"])
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


@pytest.fixture(scope="module")
def notebook_collection(stack: ComposeStack) -> str:
    """The notebook, run once inside the Jupyter container; its collection stays for the next tests."""
    collection = f"nb_{secrets.token_hex(6)}"
    output = stack.python_in("jupyter", RUN_NOTEBOOK, NOTEBOOK, collection, timeout=600)
    result = json.loads(output.strip().splitlines()[-1])
    assert (result["inserted"], result["count"]) == (3, 3)
    assert (result["hits"][0]["id"], result["hits"][0]["text"]) == (1, TURING)
    return collection


def rows_of(stack: ComposeStack, collection: str) -> int:
    return int(stack.python_in("jupyter", COUNT_ROWS, collection, timeout=120).strip().splitlines()[-1])


def test_only_jupyter_is_published_and_only_on_loopback(stack: ComposeStack) -> None:
    published = stack.publishers()
    assert {(p["Service"], p["TargetPort"]) for p in published} == {("jupyter", 8888)}
    assert {p["URL"] for p in published} == {"127.0.0.1"}


def test_milvus_has_no_route_out(stack: ComposeStack) -> None:
    # curl is in the real image and the stand-in (the health check uses it). Neither a name nor an
    # address outside the machine can be reached from Milvus's network.
    by_name = stack.run(
        "exec", "-T", "milvus", "curl", "-sS", "-m", "5", "http://deb.debian.org/", check=False
    )
    by_address = stack.run(
        "exec", "-T", "milvus", "curl", "-sS", "-m", "5", "http://151.101.2.132/", check=False
    )
    assert "<html" not in by_name.lower()
    assert "<html" not in by_address.lower()
    network = stack.containers()["milvus"].attrs["NetworkSettings"]["Networks"]
    assert list(network) == [f"{stack.project}_private"]


def test_expr_probe_answers_as_the_advisory_says_for_the_release_that_runs(
    stack: ComposeStack, image_bases: dict[str, Base]
) -> None:
    """The pinned 2.6.10 must not evaluate code; a stand-in's 2.3.5 predates the fix and does (that is
    why 9091 is never published and Milvus's network is internal). Either way the probe is checked to
    tell the two apart."""
    release = image_bases["milvus"].milvus
    assert release, "the Milvus base names its release"
    affected = milvus_tag_problem(f"v{release}") is not None
    body = stack.python_in("jupyter", EXPR_PROBE)
    evaluated = str(1337 + 31337) in body
    assert evaluated == affected, f"Milvus {release}: /expr answered {body[:200]!r}"


def test_jupyter_api_answers_without_a_token_on_loopback(stack: ComposeStack) -> None:
    url = f"http://127.0.0.1:{stack.services.port_for('jupyter', 8888)}"
    with urllib.request.urlopen(f"{url}/api", timeout=10) as response:
        assert "version" in json.load(response)
    # XSRF checks stay on (browsers reach it with ingress cookies): a bare POST is refused.
    bare_post = urllib.request.Request(f"{url}/api/kernels", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bare_post, timeout=10)
    assert refused.value.code == 403


def test_the_server_can_write_its_working_directory(stack: ComposeStack) -> None:
    """Uploads and checkpoints land in the notebook's folder: it must be the server user's (a WORKDIR
    alone is root's, and the contents API then answers 403)."""
    probe = (
        "import os, tempfile\n"
        "with tempfile.NamedTemporaryFile(dir=os.getcwd()) as f:\n"
        "    print(os.getcwd(), os.getuid())\n"
    )
    assert stack.python_in("jupyter", probe).split() == ["/home/jupyter/work", "1000"]


def test_notebook_in_the_jupyter_image_finds_turing_through_milvus_by_service_name(
    stack: ComposeStack, notebook_collection: str
) -> None:
    # Written to the Milvus container, read back through a separate client: the notebook used it.
    assert rows_of(stack, notebook_collection) == 3


def test_milvus_data_survive_a_restart_of_its_container(
    stack: ComposeStack, notebook_collection: str
) -> None:
    before = stack.containers()["milvus"].attrs["State"]["StartedAt"]
    stack.run("restart", "milvus", timeout=180)
    stack.wait_healthy()
    assert stack.containers()["milvus"].attrs["State"]["StartedAt"] != before, "the container did not restart"
    assert rows_of(stack, notebook_collection) == 3
