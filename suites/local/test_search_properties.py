"""Properties of the search module over generated documents (hypothesis), on the real local Milvus."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymilvus import MilvusClient

from milvus_spcs.search import DimensionMismatch, Document, Embedder
from milvus_spcs.search import collection as ops

pytestmark = pytest.mark.local

# Examples of one test share one collection, emptied at the start of each example: creating and
# loading a collection per example costs seconds on a real Milvus. Hence the health-check opt-out.
MILVUS_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

WORDS = (
    "milvus",
    "vector",
    "search",
    "snowflake",
    "container",
    "service",
    "turing",
    "research",
    "intelligence",
    "london",
    "index",
    "cosine",
    "embedding",
    "notebook",
    "query",
    "document",
    "schema",
    "compute",
    "pool",
    "ingress",
)
sentences = st.lists(st.sampled_from(WORDS), min_size=2, max_size=8).map(" ".join)
document_sets = st.lists(sentences, min_size=1, max_size=6, unique=True).map(
    lambda texts: [Document(i, t) for i, t in enumerate(texts)]
)


@pytest.fixture
def scratch(make_collection: Callable[[], str], milvus_client: MilvusClient) -> Callable[[], str]:
    """Per test one collection; each call empties it and returns its name (one call per example)."""
    name = make_collection()

    def empty() -> str:
        ops.clear(milvus_client, name)
        assert ops.count(milvus_client, name) == 0
        return name

    return empty


@MILVUS_SETTINGS
@given(documents=document_sets)
def test_every_document_retrieves_itself_first(
    documents: list[Document],
    scratch: Callable[[], str],
    milvus_client: MilvusClient,
    embedder: Embedder,
) -> None:
    name = scratch()
    ops.insert_documents(milvus_client, name, documents, embedder)
    for document in documents:
        top = ops.search(milvus_client, name, document.text, embedder, limit=1)[0]
        assert (top.id, top.text) == (document.id, document.text)
        assert top.score == pytest.approx(1.0, abs=1e-3)


@MILVUS_SETTINGS
@given(documents=document_sets, probe=sentences)
def test_upserting_twice_changes_nothing(
    documents: list[Document],
    probe: str,
    scratch: Callable[[], str],
    milvus_client: MilvusClient,
    embedder: Embedder,
) -> None:
    name = scratch()
    ops.upsert_documents(milvus_client, name, documents, embedder)
    first = ops.search(milvus_client, name, probe, embedder, limit=len(documents))
    ops.upsert_documents(milvus_client, name, documents, embedder)
    assert ops.count(milvus_client, name) == len(documents)
    second = ops.search(milvus_client, name, probe, embedder, limit=len(documents))
    assert [h.id for h in second] == [h.id for h in first]
    assert [h.score for h in second] == pytest.approx([h.score for h in first], abs=1e-5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dimension=st.integers(min_value=1, max_value=2048).filter(lambda d: d != 384))
def test_a_vector_of_the_wrong_dimension_is_refused_with_a_clear_error(
    dimension: int, scratch: Callable[[], str], milvus_client: MilvusClient
) -> None:
    name = scratch()
    with pytest.raises(DimensionMismatch, match=rf"has {dimension} dimensions; the collection expects 384"):
        ops.search_vector(milvus_client, name, [0.1] * dimension)


@given(text=st.text(alphabet=" \t\n\r\u00a0\u2003", max_size=20))
def test_empty_or_blank_text_is_rejected_before_embedding(text: str, embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="empty or whitespace only"):
        embedder.embed(["fine", text])


@MILVUS_SETTINGS
@given(text=st.text(min_size=1, max_size=200).filter(lambda t: t.strip() and "\x00" not in t))
def test_unicode_text_round_trips_and_retrieves_itself(
    text: str, scratch: Callable[[], str], milvus_client: MilvusClient, embedder: Embedder
) -> None:
    name = scratch()
    ops.insert_documents(
        milvus_client, name, [Document(7, text), Document(8, "an unrelated sentence")], embedder
    )
    top = ops.search(milvus_client, name, text, embedder, limit=1)[0]
    assert top.text == text
    assert top.score == pytest.approx(1.0, abs=1e-3)


@settings(max_examples=10, deadline=None)
@given(words=st.lists(st.sampled_from(WORDS), min_size=300, max_size=400), tail=sentences)
def test_text_beyond_the_model_limit_is_truncated(words: list[str], tail: str, embedder: Embedder) -> None:
    long_text = " ".join(words)
    assert embedder.token_count(long_text) > embedder.max_tokens
    base, extended = embedder.embed([long_text, long_text + " " + tail])
    assert base == pytest.approx(extended, abs=1e-5)  # only the first 256 word pieces count


def test_long_text_is_stored_in_full(
    make_collection: Callable[[], str], milvus_client: MilvusClient, embedder: Embedder
) -> None:
    name = make_collection()
    long_text = " ".join(WORDS * 40)
    assert embedder.token_count(long_text) > embedder.max_tokens
    ops.insert_documents(milvus_client, name, [Document(1, long_text)], embedder)
    assert ops.search(milvus_client, name, long_text, embedder, limit=1)[0].text == long_text


def test_text_over_the_field_size_is_refused(
    make_collection: Callable[[], str], milvus_client, embedder
) -> None:
    name = make_collection()
    with pytest.raises(ValueError, match="the text field holds 65535"):
        ops.insert_documents(milvus_client, name, [Document(1, "é" * 40_000)], embedder)
