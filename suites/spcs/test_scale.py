"""Search at scale inside SPCS (``--quick`` size): the benchmark runs in the Jupyter service's kernel,
through the ingress, against the Milvus service by its DNS name (``python -m bench.scale --backends
spcs`` does the same on a stack of its own)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from milvus_spcs.bench.cli import QUICK_QUERIES, QUICK_SIZE
from milvus_spcs.bench.in_kernel import run_in_kernel
from milvus_spcs.bench.run import INDEXES, QUICK_CONCURRENCIES
from milvus_spcs.bench.workload import prepare
from milvus_spcs.jupyter_client import JupyterOverIngress
from milvus_spcs.stack.spcs_plan import StackState

pytestmark = [pytest.mark.spcs, pytest.mark.slow]


def test_the_scale_benchmark_runs_in_the_jupyter_kernel_against_the_milvus_service(
    ingress_url: str,
    run_user_token: str,
    spcs_stack: StackState,
    record_property: Callable[[str, object], None],
) -> None:
    workload = prepare(QUICK_SIZE, QUICK_QUERIES, 0, Path(".cache/scale"), stdlib_only=True, report=print)
    started = time.perf_counter()
    results = run_in_kernel(
        JupyterOverIngress(ingress_url, run_user_token),
        workload.documents,
        workload.queries,
        workload.truth,
        INDEXES["spcs"],
        QUICK_CONCURRENCIES,
    )
    # In the JUnit XML, and what bench.spcs_path counts as the benchmark's own work.
    record_property("scale_in_kernel_seconds", time.perf_counter() - started)
    by_name = {(r.target, r.index): r for r in results}
    assert set(by_name) == {("spcs-numpy", "exact"), ("spcs", "FLAT"), ("spcs", "HNSW")}
    assert by_name["spcs-numpy", "exact"].recall == 1.0  # the same exact search as the harness's
    assert by_name["spcs", "FLAT"].recall >= 0.99  # exact inside Milvus too (ties aside)
    assert by_name["spcs", "HNSW"].recall >= 0.9
    for result in results:
        assert result.rows == QUICK_SIZE
        assert 0 < result.latency_ms["p50"] <= result.latency_ms["p95"] <= result.latency_ms["p99"]
        assert all(qps > 0 for qps in result.qps.values())
