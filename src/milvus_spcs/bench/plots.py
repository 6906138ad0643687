"""PNG plots of a run: recall against throughput per target and index, and latency percentiles."""

from __future__ import annotations

from pathlib import Path

from milvus_spcs.bench.measure import Result


def plot(results: list[Result], folder: Path, stem: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    recall_qps = folder / f"{stem}-recall-qps.png"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        points = r.sweep  # in the order of the search parameter (ef rising)
        ax.plot(
            [p.recall for p in points],
            [p.qps_single for p in points],
            marker="o",
            label=f"{r.target} {r.index}",
        )
        for p in points:
            if p.params:
                label = ",".join(f"{k}={v}" for k, v in p.params.items())
                ax.annotate(
                    label, (p.recall, p.qps_single), fontsize=6, xytext=(3, 3), textcoords="offset points"
                )
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries/s (1 client, batch 1)")
    ax.set_yscale("log")
    ax.set_title(f"Recall vs throughput, {results[0].rows:,} documents (HNSW: ef 16..256)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(recall_qps, dpi=110)
    plt.close(fig)

    latency = folder / f"{stem}-latency.png"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels = [f"{r.target}\n{r.index}" for r in results]
    width = 0.27
    for offset, key in enumerate(("p50", "p95", "p99")):
        xs = [i + (offset - 1) * width for i in range(len(results))]
        ax.bar(xs, [r.latency_ms[key] for r in results], width, label=key)
    ax.set_xticks(range(len(results)), labels, fontsize=8)
    ax.set_ylabel("latency, ms (batch 1)")
    ax.set_yscale("log")
    ax.set_title(f"Search latency percentiles, {results[0].rows:,} documents")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(latency, dpi=110)
    plt.close(fig)
    return [recall_qps, latency]
