"""Collection operations for the demo, written once for every Milvus the harness talks to.

Every read uses Strong consistency: pymilvus defaults to Bounded, and on a real Milvus a search right
after an insert may then legitimately see nothing (milvus#35090). Milvus Lite is Strong by
construction, which is why the guide's notebook "works" there and flakes on a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymilvus import DataType, MilvusClient

from milvus_spcs.search.documents import Document
from milvus_spcs.search.embedder import DIMENSION, Embedder

CONSISTENCY = "Strong"
METRIC = "COSINE"
ID_FIELD, VECTOR_FIELD, TEXT_FIELD = "id", "vector", "text"
# Milvus measures VARCHAR max_length in bytes (UTF-8).
TEXT_MAX_BYTES = 65_535
INDEX_PARAMS = {"M": 16, "efConstruction": 200}
SEARCH_PARAMS = {"ef": 64}


class DimensionMismatch(ValueError):
    """A vector's length differs from the collection's dimension."""


@dataclass(frozen=True)
class Hit:
    id: int
    text: str
    score: float


@dataclass(frozen=True)
class FieldShape:
    name: str
    type: str
    is_primary: bool
    params: dict[str, Any]


def create_collection(client: MilvusClient, name: str, *, dimension: int = DIMENSION) -> None:
    """Create ``name`` with an explicit schema and an HNSW/COSINE index, and load it.

    Fails if the collection exists: silently reusing one would hide stale data.
    """
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
    schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field(TEXT_FIELD, DataType.VARCHAR, max_length=TEXT_MAX_BYTES)
    index = client.prepare_index_params()
    index.add_index(VECTOR_FIELD, index_type="HNSW", metric_type=METRIC, params=INDEX_PARAMS)
    client.create_collection(name, schema=schema, consistency_level=CONSISTENCY)
    # sync=False: pymilvus would otherwise poll the build with a fixed 0.5 s sleep; the collection is
    # empty, so there is nothing to build, and load_collection waits for what load really needs.
    client.create_index(name, index, sync=False)
    client.load_collection(name)


def drop_collection(client: MilvusClient, name: str) -> None:
    if client.has_collection(name):
        client.drop_collection(name)


def clear(client: MilvusClient, name: str) -> None:
    """Delete every row, keeping the collection, its index and its load state (cheaper than recreating)."""
    rows = client.query(
        name, filter="", output_fields=[ID_FIELD], limit=16_384, consistency_level=CONSISTENCY
    )
    if rows:
        client.delete(name, ids=[r[ID_FIELD] for r in rows])


def _rows(documents: Sequence[Document], embedder: Embedder) -> list[dict[str, Any]]:
    for document in documents:
        size = len(document.text.encode("utf-8"))
        if size > TEXT_MAX_BYTES:
            raise ValueError(f"document {document.id} is {size} bytes; the text field holds {TEXT_MAX_BYTES}")
    vectors = embedder.embed([d.text for d in documents])
    return [
        {ID_FIELD: d.id, VECTOR_FIELD: v, TEXT_FIELD: d.text} for d, v in zip(documents, vectors, strict=True)
    ]


def check_dimension(vectors: Sequence[Sequence[float]], dimension: int) -> None:
    for index, vector in enumerate(vectors):
        if len(vector) != dimension:
            raise DimensionMismatch(
                f"vector #{index} has {len(vector)} dimensions; the collection expects {dimension}"
            )


def collection_dimension(client: MilvusClient, name: str) -> int:
    for field in describe_fields(client, name):
        if field.name == VECTOR_FIELD:
            return int(field.params["dim"])
    raise LookupError(f"collection {name!r} has no {VECTOR_FIELD!r} field")


def insert_documents(
    client: MilvusClient, name: str, documents: Sequence[Document], embedder: Embedder
) -> int:
    rows = _rows(documents, embedder)
    check_dimension([r[VECTOR_FIELD] for r in rows], collection_dimension(client, name))
    return int(client.insert(name, rows)["insert_count"])


def upsert_documents(
    client: MilvusClient, name: str, documents: Sequence[Document], embedder: Embedder
) -> int:
    rows = _rows(documents, embedder)
    check_dimension([r[VECTOR_FIELD] for r in rows], collection_dimension(client, name))
    return int(client.upsert(name, rows)["upsert_count"])


def search_vector(client: MilvusClient, name: str, vector: Sequence[float], *, limit: int = 3) -> list[Hit]:
    check_dimension([vector], collection_dimension(client, name))
    results = client.search(
        name,
        data=[list(vector)],
        limit=limit,
        output_fields=[TEXT_FIELD],
        search_params={"metric_type": METRIC, "params": SEARCH_PARAMS},
        consistency_level=CONSISTENCY,
    )
    return [
        Hit(id=int(hit["id"]), text=str(hit["entity"][TEXT_FIELD]), score=float(hit["distance"]))
        for hit in results[0]
    ]


def search(client: MilvusClient, name: str, query: str, embedder: Embedder, *, limit: int = 3) -> list[Hit]:
    """The documents nearest to ``query``, best first (COSINE: higher score is closer)."""
    return search_vector(client, name, embedder.embed([query])[0], limit=limit)


def count(client: MilvusClient, name: str) -> int:
    """Row count by ``count(*)`` at Strong consistency (collection stats lag until a flush)."""
    rows = client.query(name, filter="", output_fields=["count(*)"], consistency_level=CONSISTENCY)
    return int(rows[0]["count(*)"])


def describe_fields(client: MilvusClient, name: str) -> list[FieldShape]:
    fields = client.describe_collection(name)["fields"]
    return [
        FieldShape(
            name=f["name"],
            type=DataType(f["type"]).name,
            is_primary=bool(f.get("is_primary", False)),
            params=dict(f.get("params", {})),
        )
        for f in fields
    ]
