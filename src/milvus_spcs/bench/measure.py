"""The measurements themselves: one index on one Milvus, and the numpy baseline.

Self-contained on purpose (numpy, pymilvus and the standard library only): the SPCS mode sends this
module's source into the Jupyter service's kernel and runs it there, so the figures are the
deployment's, whatever version of this project the image carries.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
TOP_K = 10
INSERT_BATCH = 2_000  # rows per insert call: well under Milvus's 64 MB gRPC message limit at 384-d
METRIC = "COSINE"
# Reads after the count check use Bounded (Milvus's default): Strong would make every search wait for
# the latest timestamp, which measures the consistency protocol rather than the search.
SEARCH_CONSISTENCY = "Bounded"


@dataclass(frozen=True)
class IndexSpec:
    name: str  # FLAT, HNSW
    build: dict[str, Any]
    search_sweep: list[dict[str, Any]]  # search params measured for recall and single-client QPS
    search: dict[str, Any]  # the one measured in full (percentiles, concurrency)


FLAT = IndexSpec("FLAT", {}, [{}], {})
HNSW = IndexSpec(
    "HNSW",
    {"M": 16, "efConstruction": 200},
    [{"ef": ef} for ef in (16, 32, 64, 128, 256)],
    {"ef": 64},
)


@dataclass
class SearchPoint:
    params: dict[str, Any]
    recall: float
    qps_single: float  # 1 / mean latency at batch 1, one client


@dataclass
class Result:
    target: str  # lite, server, spcs, numpy
    index: str
    build_params: dict[str, Any]
    search_params: dict[str, Any]
    rows: int
    ingest_rows_per_s: float = math.nan
    index_build_s: float = math.nan
    load_s: float = math.nan
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p95, p99
    qps: dict[int, float] = field(default_factory=dict)  # client concurrency -> queries/s
    recall: float = math.nan
    sweep: list[SearchPoint] = field(default_factory=list)
    peak_rss_mb: float = math.nan
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["qps"] = {str(k): v for k, v in self.qps.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        data = dict(data)
        data["qps"] = {int(k): float(v) for k, v in data["qps"].items()}
        data["sweep"] = [SearchPoint(**p) for p in data["sweep"]]
        return cls(**data)


def percentiles(samples: Sequence[float], points: Sequence[int] = (50, 95, 99)) -> dict[str, float]:
    """Nearest-rank percentiles (no interpolation: every figure is a latency that happened)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    return {f"p{p}": ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] for p in points}


def exact_top_k(
    documents: Matrix, queries: Matrix, k: int = TOP_K, chunk: int = 256
) -> npt.NDArray[np.int64]:
    """Row indices of the k documents nearest to each query by inner product (cosine: rows are
    normalised), best first. Chunked so 100,000 documents x 500 queries stays small in memory."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ documents.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
        out[start : start + chunk] = np.take_along_axis(top, order, axis=1)
    return out


def recall_at_k(found: Sequence[Sequence[int]], truth: npt.NDArray[np.int64], k: int = TOP_K) -> float:
    """Mean share of the true k nearest that a search returned among its first k."""
    if len(found) != len(truth):
        raise ValueError(f"{len(found)} results for {len(truth)} queries")
    hits = sum(len(set(list(f)[:k]) & set(t[:k].tolist())) for f, t in zip(found, truth, strict=True))
    return hits / (k * len(truth))


def throughput(searchers: Sequence[Callable[[int], object]], queries: int) -> float:
    """Queries per second with one client thread per searcher, sharing the query list (each query once)."""
    counter = iter(range(queries))
    lock = threading.Lock()

    def worker(search_one: Callable[[int], object]) -> None:
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            search_one(index)

    started = time.perf_counter()
    with ThreadPoolExecutor(len(searchers)) as pool:
        for future in [pool.submit(worker, s) for s in searchers]:
            future.result()
    return queries / (time.perf_counter() - started)


def timed_queries(
    search_one: Callable[[int], list[int]], queries: int
) -> tuple[list[float], list[list[int]]]:
    latencies, found = [], []
    for index in range(queries):
        started = time.perf_counter()
        ids = search_one(index)
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(ids)
    return latencies, found


def numpy_baseline(
    documents: Matrix, queries: Matrix, truth: npt.NDArray[np.int64], concurrencies: Sequence[int]
) -> Result:
    """Exact search in numpy, one query at a time: the baseline every index is compared with."""

    def search_one(index: int) -> list[int]:
        scores = documents @ queries[index]
        top = np.argpartition(-scores, TOP_K - 1)[:TOP_K]
        return [int(i) for i in top[np.argsort(-scores[top])]]

    latencies, found = timed_queries(search_one, len(queries))
    result = Result("numpy", "exact", {}, {}, len(documents))
    result.latency_ms = percentiles(latencies)
    result.recall = recall_at_k(found, truth)
    result.qps = {c: throughput([search_one] * c, len(queries)) for c in concurrencies}
    result.sweep = [SearchPoint({}, result.recall, 1000 / (sum(latencies) / len(latencies)))]
    return result


def milvus_index(
    uri: str,
    target: str,
    spec: IndexSpec,
    documents: Matrix,
    queries: Matrix,
    truth: npt.NDArray[np.int64],
    concurrencies: Sequence[int],
    *,
    token: str = "",
    report: Callable[[str], None] = print,
) -> Result:
    """Create a collection, insert, index, load, measure, drop. Ids are row numbers, so a search's ids
    compare directly with the exact top-k."""
    from pymilvus import DataType, MilvusClient

    name = f"scale_{spec.name.lower()}_{len(documents)}"
    client = MilvusClient(uri=uri, token=token, timeout=600)
    if client.has_collection(name):
        client.drop_collection(name)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=documents.shape[1])
    client.create_collection(name, schema=schema, consistency_level="Strong")
    result = Result(target, spec.name, spec.build, spec.search, len(documents))
    try:
        started = time.perf_counter()
        for offset in range(0, len(documents), INSERT_BATCH):
            batch = documents[offset : offset + INSERT_BATCH]
            client.insert(name, [{"id": offset + i, "vector": v} for i, v in enumerate(batch.tolist())])
        client.flush(name)
        result.ingest_rows_per_s = len(documents) / (time.perf_counter() - started)
        report(f"{target}/{spec.name}: inserted {len(documents)} rows, {result.ingest_rows_per_s:.0f} rows/s")

        index = client.prepare_index_params()
        index.add_index("vector", index_type=spec.name, metric_type=METRIC, params=spec.build)
        started = time.perf_counter()
        client.create_index(name, index, sync=True)  # pymilvus polls the build every 0.5 s
        result.index_build_s = time.perf_counter() - started
        started = time.perf_counter()
        client.load_collection(name)
        result.load_s = time.perf_counter() - started
        counted = client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")
        if int(counted[0]["count(*)"]) != len(documents):
            raise RuntimeError(f"{name} counts {counted[0]['count(*)']} rows; {len(documents)} inserted")
        report(f"{target}/{spec.name}: index {result.index_build_s:.1f} s, load {result.load_s:.1f} s")

        query_lists = queries.tolist()

        def searcher(params: dict[str, Any], on: Any = client) -> Callable[[int], list[int]]:
            def search_one(i: int) -> list[int]:
                hits = on.search(
                    name,
                    data=[query_lists[i]],
                    limit=TOP_K,
                    search_params={"metric_type": METRIC, "params": params},
                    consistency_level=SEARCH_CONSISTENCY,
                )
                return [int(hit["id"]) for hit in hits[0]]

            return search_one

        searcher(spec.search)(0)  # warm-up: the first search pays for connection set-up
        for params in spec.search_sweep:
            latencies, found = timed_queries(searcher(params), len(queries))
            point = SearchPoint(params, recall_at_k(found, truth), 1000 / (sum(latencies) / len(latencies)))
            result.sweep.append(point)
            if params == spec.search:
                result.latency_ms = percentiles(latencies)
                result.recall = point.recall
        for concurrency in concurrencies:
            # One client per thread (each its own channel), as independent application clients are.
            clients = [MilvusClient(uri=uri, token=token, timeout=600) for _ in range(concurrency)]
            searchers = [searcher(spec.search, on) for on in clients]
            for search_one in searchers:
                search_one(0)  # connect before the clock starts
            result.qps[concurrency] = throughput(searchers, len(queries))
            for extra in clients:
                extra.close()
        report(
            f"{target}/{spec.name}: recall@10 {result.recall:.3f}, p50 {result.latency_ms['p50']:.2f} ms, "
            + ", ".join(f"QPS@{c} {q:.0f}" for c, q in result.qps.items())
        )
    finally:
        client.drop_collection(name)
        client.close()
    return result
