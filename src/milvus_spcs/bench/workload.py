"""What every target is measured on: the corpus, its vectors and the exact top-k of each query."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from milvus_spcs.bench.corpus import Corpus, draw_corpus, sentence_pool
from milvus_spcs.bench.measure import Matrix, exact_top_k
from milvus_spcs.bench.vectors import Embedded, embed_corpus


@dataclass(frozen=True)
class Workload:
    corpus: Corpus
    pool_size: int  # distinct sentences the corpus was drawn from
    embedded: Embedded
    truth: npt.NDArray[np.int64]
    seconds: dict[str, float]  # corpus, embedding, exact top-k

    @property
    def documents(self) -> Matrix:
        return self.embedded.documents

    @property
    def queries(self) -> Matrix:
        return self.embedded.queries


def prepare(
    size: int,
    queries: int,
    seed: int,
    cache_dir: Path,
    *,
    stdlib_only: bool = False,
    report: Callable[[str], None] = print,
) -> Workload:
    """``stdlib_only``: draw from the standard library's docstrings alone (the quick smoke: a scan of
    seconds instead of the whole installation's ~90 s)."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    pool = sentence_pool(cache_dir, stdlib_only=stdlib_only)
    corpus = draw_corpus(pool, size, queries, seed)
    seconds["corpus"] = time.perf_counter() - started
    report(
        f"corpus: {len(corpus.documents)} documents + {len(corpus.queries)} queries from {len(pool)} "
        f"sentences (digest {corpus.digest})"
    )
    started = time.perf_counter()
    embedded = embed_corpus(corpus, cache_dir, report=report)
    seconds["embedding"] = time.perf_counter() - started
    started = time.perf_counter()
    truth = exact_top_k(embedded.documents, embedded.queries)
    seconds["exact top-k"] = time.perf_counter() - started
    return Workload(corpus, len(pool), embedded, truth, seconds)
