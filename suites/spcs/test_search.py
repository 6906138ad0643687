"""The demo through the Jupyter service: the notebook runs in the service's kernel (through the
ingress) against the Milvus service, reached by its DNS name."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from milvus_spcs.jupyter_client import JupyterOverIngress, Kernel
from milvus_spcs.stack.spcs_plan import StackState

pytestmark = pytest.mark.spcs
TURING = "Alan Turing was the first person to conduct substantial research in AI."


@pytest.fixture(scope="module")
def kernel(ingress_url: str, run_user_token: str) -> Iterator[Kernel]:
    """One fresh kernel for this module, as a user's open notebook: the notebook runs first in it. It
    exits while the next tests run (the spcs_stack fixture waits for that before its teardown)."""
    with JupyterOverIngress(ingress_url, run_user_token).kernel(background_shutdown=True) as kernel:
        yield kernel


def test_notebook_finds_turing_through_the_service(
    kernel: Kernel, spcs_stack: StackState, record_property: Callable[[str, object], None]
) -> None:
    result = kernel.run_notebook("TestMilvus.ipynb", collection=f"suite_{spcs_stack.names.run_id}")
    # The notebook's own timings: in the JUnit XML, and what bench.spcs_path counts as irreducible.
    record_property("notebook_model_load_seconds", result["seconds"]["model_load"])
    record_property("notebook_demo_seconds", result["seconds"]["demo"])
    assert (result["inserted"], result["count"]) == (3, 3)
    assert result["query"] == "Who started AI research?"
    assert (result["hits"][0]["id"], result["hits"][0]["text"]) == (1, TURING)


def test_the_notebook_reaches_milvus_by_its_service_dns_name(kernel: Kernel) -> None:
    code = (
        "import json, os, socket\n"
        "from urllib.parse import urlparse\n"
        "from pymilvus import MilvusClient\n"
        "uri = os.environ['MILVUS_URI']\n"
        "host = urlparse(uri).hostname\n"
        "print(json.dumps({'host': host, 'address': socket.gethostbyname(host),"
        " 'collections': MilvusClient(uri, timeout=30).list_collections()}))\n"
    )
    out = json.loads(kernel.run(code)[0].strip().splitlines()[-1])
    assert out["host"] == "milvus"  # a DNS name, not an address
    assert out["address"]
    assert isinstance(out["collections"], list)
