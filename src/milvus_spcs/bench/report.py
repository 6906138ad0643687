"""The benchmark's report: a markdown table (printed and written to bench/results/<date>-<host>.md)
with the exact command, versions and machine, and PNG plots beside it."""

from __future__ import annotations

import math
import os
import platform
import socket
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from milvus_spcs.bench.run import Options, Outcome

PACKAGES = ("pymilvus", "milvus-lite", "milvus", "numpy", "torch", "sentence-transformers", "faiss-cpu")


def fmt(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def params(values: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "-"


def main_table(outcome: Outcome, concurrencies: tuple[int, ...]) -> list[str]:
    qps_heads = " | ".join(f"QPS@{c}" for c in concurrencies)
    lines = [
        "| target | index | build | search | ingest rows/s | index build s | load s "
        f"| p50 ms | p95 ms | p99 ms | {qps_heads} | recall@10 | peak RSS MB |",
        "|---|---|---|---|" + "---:|" * (8 + len(concurrencies)),
    ]
    for r in outcome.results:
        lat = r.latency_ms
        qps = " | ".join(fmt(r.qps.get(c, math.nan)) for c in concurrencies)
        lines.append(
            f"| {r.target} | {r.index} | {params(r.build_params)} | {params(r.search_params)} "
            f"| {fmt(r.ingest_rows_per_s)} | {fmt(r.index_build_s, 1)} | {fmt(r.load_s, 1)} "
            f"| {lat['p50']:.2f} | {lat['p95']:.2f} | {lat['p99']:.2f} | {qps} | {r.recall:.3f} "
            f"| {fmt(r.peak_rss_mb)} |"
        )
    return lines


def sweep_table(outcome: Outcome) -> list[str]:
    lines = ["| target | index | search | recall@10 | QPS (1 client) |", "|---|---|---|---:|---:|"]
    for r in outcome.results:
        for point in r.sweep:
            lines.append(
                f"| {r.target} | {r.index} | {params(point.params)} | {point.recall:.3f} "
                f"| {point.qps_single:,.0f} |"
            )
    return lines


def verdict(outcome: Outcome) -> str:
    """The issue's question: does the real server's graph index reach recall@10 >= 0.95 and beat
    numpy exact search per query?"""
    server = next((r for r in outcome.results if r.target == "server" and r.index == "HNSW"), None)
    numpy = next((r for r in outcome.results if r.target == "numpy"), None)
    if server is None or numpy is None:
        return "No server HNSW figures in this run (backend not selected or skipped)."
    faster = server.latency_ms["p50"] < numpy.latency_ms["p50"]
    good = server.recall >= 0.95
    return (
        f"server HNSW: recall@10 {server.recall:.3f} ({'>=' if good else '<'} 0.95); p50 "
        f"{server.latency_ms['p50']:.2f} ms vs numpy exact {numpy.latency_ms['p50']:.2f} ms "
        f"({'faster' if faster else 'slower'} per query), QPS@1 {server.qps.get(1, math.nan):,.0f} vs "
        f"{numpy.qps.get(1, math.nan):,.0f}."
    )


def versions() -> str:
    found = []
    for package in PACKAGES:
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    return f"Python {platform.python_version()}, " + ", ".join(found)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import psutil

    memory = psutil.virtual_memory().total / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{socket.gethostname()}: {os.cpu_count()} CPUs ({cpu}), {memory:.0f} GiB RAM, load average {load}"


def render(options: Options, outcome: Outcome, plots: list[Path]) -> str:
    w = outcome.workload
    e = w.embedded
    embedding = (
        f"{e.embedded_now} texts embedded now at {e.docs_per_second:,.0f} documents/s"
        if e.embedded_now
        else f"all {len(e.documents) + len(e.queries)} vectors from the cache "
        f"(filled at {e.docs_per_second:,.0f} documents/s)"
    )
    lines = [
        f"# Search at scale: {len(w.documents):,} documents, {len(w.queries)} queries",
        "",
        f"`{options.command}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{outcome.seconds:.0f} s in all",
        "",
        f"- machine: {machine()}",
        f"- versions: {versions()}",
        f"- corpus: seed {options.seed}, digest {w.corpus.digest}, sentences of docstrings "
        f"({'standard library' if options.quick else 'standard library and site-packages'}), "
        f"drawn from {w.pool_size:,} distinct sentences; built in {w.seconds['corpus']:.1f} s",
        f"- embedding: {e.model}, {embedding}; exact top-10 in {w.seconds['exact top-k']:.1f} s",
        "- targets: " + "; ".join(f"{k}: {v}" for k, v in outcome.descriptions.items()),
        "- method: ids are row numbers; every index is built after the insert and flush (pymilvus "
        "polls the build every 0.5 s); latency is one query at a time over all queries (batch 1, "
        "top 10); QPS@N: N clients, one channel each, share the query list; searches read at Bounded "
        "consistency after a Strong count(*) check; peak RSS is the kernel's high-water mark (VmHWM) "
        "of the serving process and its children over the whole run of that backend",
        "",
        *main_table(outcome, options.concurrencies),
        "",
        f"**{verdict(outcome)}**",
        "",
        "Recall against single-client throughput per search parameter:",
        "",
        *sweep_table(outcome),
    ]
    if outcome.failed:
        lines += ["", "Failed:", *(f"- {k}: {v}" for k, v in outcome.failed.items())]
    if outcome.skipped:
        lines += ["", "Skipped:", *(f"- {k}: {v}" for k, v in outcome.skipped.items())]
    notes = sorted({f"{r.target}: {n}" for r in outcome.results for n in r.notes})
    if notes:
        lines += ["", "Notes:", *(f"- {n}" for n in notes)]
    if plots:
        lines += ["", *(f"![{p.stem}]({p.name})" for p in plots)]
    return "\n".join(lines) + "\n"


def result_stem(options: Options) -> str:
    host = socket.gethostname().split(".")[0]
    tail = "-quick" if options.quick else f"-{options.size}"
    return f"{time.strftime('%Y-%m-%d', time.gmtime())}-{host}{tail}"
