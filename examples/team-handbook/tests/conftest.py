"""The team's data: its documents and its questions, and the check that each question finds its
passage first (the harness's fixtures come from its plugin)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml


@pytest.fixture(scope="session")
def handbook() -> dict[str, Any]:
    return yaml.safe_load((Path(__file__).parent / "handbook.yaml").read_text())


@pytest.fixture(scope="session")
def handbook_rows(handbook: dict[str, Any], embedder: Any) -> list[dict[str, Any]]:
    """The documents as rows of the harness's demo schema (id, vector, text), embedded once."""
    documents = handbook["documents"]
    vectors = embedder.embed([d["text"] for d in documents])
    return [{"id": d["id"], "vector": v, "text": d["text"]} for d, v in zip(documents, vectors, strict=True)]


@pytest.fixture
def assert_each_question_answered(
    handbook: dict[str, Any], embedder: Any
) -> Callable[[Callable[..., Any]], None]:
    """``check(search)``: every question's top hit is its passage; ``search`` is a MilvusClient's search
    with the collection already bound (a local client's, or the stack's ``spcs_milvus``)."""

    def check(search: Callable[..., Any]) -> None:
        for item in handbook["questions"]:
            (hits,) = search(
                data=embedder.embed([item["question"]]),
                limit=2,
                output_fields=["text"],
                consistency_level="Strong",  # Milvus's default (Bounded) may not see the insert yet
            )
            assert hits[0]["id"] == item["answer"], (item["question"], hits)

    return check
