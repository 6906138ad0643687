"""The team's questions on a local Milvus (Milvus Lite by default; `--milvus-backend server` for the real
binary): the plugin's `milvus_client`, `make_collection` and `embedder`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.local


def test_each_question_finds_its_passage_first(
    handbook: dict[str, Any], milvus_client: Any, make_collection: Callable[[], str], embedder: Any
) -> None:
    name = make_collection()  # the harness's demo schema: id, vector (384), text
    documents = handbook["documents"]
    vectors = embedder.embed([d["text"] for d in documents])
    rows = [{"id": d["id"], "vector": v, "text": d["text"]} for d, v in zip(documents, vectors, strict=True)]
    milvus_client.insert(collection_name=name, data=rows)
    milvus_client.flush(collection_name=name)
    for item in handbook["questions"]:
        (hits,) = milvus_client.search(
            collection_name=name,
            data=embedder.embed([item["question"]]),
            limit=2,
            output_fields=["text"],
            consistency_level="Strong",
        )
        assert hits[0]["id"] == item["answer"], (item["question"], hits)
