"""The guide's demo on a local Milvus: the right document comes first, and the collection is as declared."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pymilvus import MilvusClient

from milvus_spcs.search import GUIDE_DOCUMENTS, GUIDE_QUERY, Embedder, run_demo
from milvus_spcs.search import collection as ops

pytestmark = pytest.mark.local

# Expected answers, written out in full so that a changed document or a wrong ranking turns this red.
TURING = "Alan Turing was the first person to conduct substantial research in AI."
FOUNDED = "Artificial intelligence was founded as an academic discipline in 1956."
MAIDA_VALE = "Born in Maida Vale, London, Turing was raised in southern England."
MIN_MARGIN = 0.05  # cosine gap between the right answer and the runner-up


@pytest.fixture
def demo_collection(
    make_collection: Callable[[], str], milvus_client: MilvusClient, embedder: Embedder
) -> str:
    name = make_collection()
    ops.insert_documents(milvus_client, name, GUIDE_DOCUMENTS, embedder)
    return name


def test_guide_query_returns_the_turing_sentence_first_with_a_margin(
    make_collection: Callable[[], str], milvus_client: MilvusClient, embedder: Embedder
) -> None:
    name = make_collection()  # registered for cleanup; run_demo recreates it the notebook's way
    result = run_demo(milvus_client, collection_name=name, embedder=embedder)
    assert result.query == "Who started AI research?" == GUIDE_QUERY
    top, runner_up = result.hits[0], result.hits[1]
    assert (top.id, top.text) == (1, TURING)
    assert top.score - runner_up.score >= MIN_MARGIN, result.hits


@pytest.mark.parametrize(
    ("query", "expected_id", "expected_text"),
    [
        pytest.param("When was AI founded as an academic discipline?", 0, FOUNDED, id="founded-1956"),
        pytest.param("Where was Alan Turing born?", 2, MAIDA_VALE, id="turing-born"),
        pytest.param(
            "Where was Alan Turing raised?",
            2,
            MAIDA_VALE,
            id="turing-raised",
            marks=pytest.mark.xfail(
                strict=True,
                reason="all-MiniLM-L6-v2 ranks the research sentence (cos 0.671) above Maida Vale (0.658)",
            ),
        ),
    ],
)
def test_question_returns_the_answering_document_first(
    demo_collection: str,
    milvus_client: MilvusClient,
    embedder: Embedder,
    query: str,
    expected_id: int,
    expected_text: str,
) -> None:
    hits = ops.search(milvus_client, demo_collection, query, embedder)
    assert (hits[0].id, hits[0].text) == (expected_id, expected_text), hits


def test_count_is_three_right_after_insert(
    make_collection: Callable[[], str], milvus_client: MilvusClient, embedder: Embedder
) -> None:
    name = make_collection()
    assert ops.count(milvus_client, name) == 0
    assert ops.insert_documents(milvus_client, name, GUIDE_DOCUMENTS, embedder) == 3
    assert ops.count(milvus_client, name) == 3  # no flush, no sleep: Strong consistency


def test_schema_is_as_declared(make_collection: Callable[[], str], milvus_client: MilvusClient) -> None:
    name = make_collection()
    fields = {f.name: f for f in ops.describe_fields(milvus_client, name)}
    assert set(fields) == {"id", "vector", "text"}
    assert (fields["id"].type, fields["id"].is_primary) == ("INT64", True)
    assert (fields["vector"].type, int(fields["vector"].params["dim"])) == ("FLOAT_VECTOR", 384)
    assert (fields["text"].type, int(fields["text"].params["max_length"])) == ("VARCHAR", 65_535)
    index = milvus_client.describe_index(name, index_name="vector")
    assert (index["index_type"], index["metric_type"]) == ("HNSW", "COSINE")
