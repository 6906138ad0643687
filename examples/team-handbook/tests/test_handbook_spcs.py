"""The team's collection and questions on the provisioned stack (the bundled emulator unless
`--snowflake-connection` names an account): vectors are made here, Milvus is reached from inside the
stack (`spcs_milvus` runs each MilvusClient call in a kernel of the Jupyter service), and the team's own
notebook runs in the Jupyter service (`--notebooks-dir=notebooks`, in pyproject.toml's addopts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.spcs


def test_each_question_finds_its_passage_first_in_the_stack(
    handbook: dict[str, Any], spcs_milvus: Any, embedder: Any, spcs_stack: Any
) -> None:
    name = f"{handbook['collection']}_{spcs_stack.names.run_id}"
    spcs_milvus.create_collection(collection_name=name, dimension=384, metric_type="COSINE")
    try:
        documents = handbook["documents"]
        vectors = embedder.embed([d["text"] for d in documents])
        rows = [
            {"id": d["id"], "vector": v, "text": d["text"]} for d, v in zip(documents, vectors, strict=True)
        ]
        assert spcs_milvus.insert(collection_name=name, data=rows)["insert_count"] == len(rows)
        for item in handbook["questions"]:
            (hits,) = spcs_milvus.search(
                collection_name=name,
                data=embedder.embed([item["question"]]),
                limit=2,
                output_fields=["text"],
                consistency_level="Strong",  # Milvus's default (Bounded) may not see the insert yet
            )
            assert hits[0]["id"] == item["answer"], (item["question"], hits)
    finally:
        spcs_milvus.drop_collection(collection_name=name)


def test_the_teams_notebook_runs_in_the_jupyter_service(spcs_notebook: Callable[..., dict[str, Any]]) -> None:
    result = spcs_notebook("Handbook.ipynb")
    assert result["uri_host"] == "milvus"  # Milvus by its service DNS name, as in the guide
    assert (result["inserted"], result["top"]) == (3, 2)
