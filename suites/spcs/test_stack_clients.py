"""The plugin's clients inside the stack, as a team's own suite uses them: a MilvusClient whose calls run
in a kernel of the Jupyter service (Milvus reached by its service DNS name), and the Jupyter service
with its notebooks."""

from __future__ import annotations

import pytest

from milvus_spcs.jupyter_client import JupyterOverIngress
from milvus_spcs.remote_milvus import RemoteMilvus, RemoteMilvusError
from milvus_spcs.stack.spcs_plan import StackState

pytestmark = pytest.mark.spcs


def test_a_milvus_client_inside_the_stack_inserts_and_searches(
    spcs_milvus: RemoteMilvus, spcs_stack: StackState
) -> None:
    name = f"clients_{spcs_stack.names.run_id}"
    spcs_milvus.create_collection(collection_name=name, dimension=2, metric_type="COSINE")
    try:
        rows = [{"id": 1, "vector": [1.0, 0.0]}, {"id": 2, "vector": [0.0, 1.0]}]
        assert spcs_milvus.insert(collection_name=name, data=rows)["ids"] == [1, 2]
        hits = spcs_milvus.search(
            collection_name=name, data=[[0.1, 0.9]], limit=1, consistency_level="Strong"
        )
        assert hits[0][0]["id"] == 2
        assert name in spcs_milvus.list_collections()
    finally:
        spcs_milvus.drop_collection(collection_name=name)
    with pytest.raises(RemoteMilvusError, match="describe_collection failed in the stack's kernel"):
        spcs_milvus.describe_collection(collection_name=name)  # dropped: Milvus's own error, named


def test_the_jupyter_service_serves_the_bundled_notebook(spcs_jupyter: JupyterOverIngress) -> None:
    names = {entry["name"] for entry in spcs_jupyter.get_json("/api/contents")["content"]}
    assert "TestMilvus.ipynb" in names
