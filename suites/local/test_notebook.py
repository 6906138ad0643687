"""The notebook shipped in the Jupyter image, executed in a real kernel against the local Milvus."""

from __future__ import annotations

import secrets

import pytest
from pymilvus import MilvusClient

from milvus_spcs.backends import MilvusBackend
from milvus_spcs.notebook import NOTEBOOK_RELATIVE_PATH, execute_notebook
from milvus_spcs.search.collection import drop_collection

pytestmark = pytest.mark.local


def test_notebook_inserts_three_documents_and_finds_turing(
    pytestconfig: pytest.Config, milvus_backend: MilvusBackend, milvus_client: MilvusClient, tmp_path
) -> None:
    name = f"nb_{secrets.token_hex(6)}"
    try:
        run = execute_notebook(
            pytestconfig.rootpath / NOTEBOOK_RELATIVE_PATH,
            milvus_uri=milvus_backend.uri,
            collection=name,
            workdir=tmp_path,
        )
        assert (run.result["inserted"], run.result["count"]) == (3, 3)
        assert run.result["query"] == "Who started AI research?"
        top = run.result["hits"][0]
        assert (top["id"], top["text"]) == (
            1,
            "Alan Turing was the first person to conduct substantial research in AI.",
        )
        # The notebook wrote to the Milvus this test process sees: same server, not a private copy.
        assert milvus_client.has_collection(name)
    finally:
        drop_collection(milvus_client, name)
