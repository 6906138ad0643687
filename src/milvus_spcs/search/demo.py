"""The guide's notebook as one function: create, insert the three documents, ask the question."""

from __future__ import annotations

from dataclasses import dataclass

from pymilvus import MilvusClient

from milvus_spcs.search import collection
from milvus_spcs.search.documents import GUIDE_DOCUMENTS, GUIDE_QUERY
from milvus_spcs.search.embedder import Embedder, default_embedder

DEFAULT_COLLECTION = "milvus_spcs_demo"


@dataclass(frozen=True)
class DemoResult:
    inserted: int
    count: int
    query: str
    hits: list[collection.Hit]


def run_demo(
    client: MilvusClient,
    *,
    collection_name: str = DEFAULT_COLLECTION,
    embedder: Embedder | None = None,
    query: str = GUIDE_QUERY,
) -> DemoResult:
    """Recreate the demo collection, insert the guide's documents and search the guide's question."""
    embedder = embedder or default_embedder()
    collection.drop_collection(client, collection_name)
    collection.create_collection(client, collection_name)
    inserted = collection.insert_documents(client, collection_name, GUIDE_DOCUMENTS, embedder)
    return DemoResult(
        inserted=inserted,
        count=collection.count(client, collection_name),
        query=query,
        hits=collection.search(client, collection_name, query, embedder),
    )
