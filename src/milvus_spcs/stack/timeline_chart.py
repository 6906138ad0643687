"""timeline.png: a Gantt chart of timeline.json. One row per step (provisioning, then teardown); the
statements in a dark shade, the wait in a light one, the critical path outlined in red, the states the
wait saw written where they began."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

COLOURS = {"provisioning": ("#1f4e79", "#9dc3e6"), "teardown": ("#595959", "#bfbfbf")}
FAILED = "#c00000"
CRITICAL = "#e8222b"


def draw_timeline(document: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    bars = [b for b in document["bars"] if b["end"] is not None or b["status"] == "running"]
    last = max([b["end"] or b["start"] for b in bars] + [p["end"] or 0 for p in document["phases"]] + [1])
    figure, axes = plt.subplots(figsize=(12, 1.2 + 0.38 * len(bars)))
    for row, bar in enumerate(bars):
        dark, light = COLOURS.get(bar["phase"], COLOURS["provisioning"])
        end = bar["end"] if bar["end"] is not None else last
        split = bar["wait_start"] if bar["wait_start"] is not None else end
        edge = CRITICAL if bar["critical"] else "none"
        colour = FAILED if bar["status"] == "failed" else dark
        axes.barh(
            row,
            max(split - bar["start"], last / 400),
            left=bar["start"],
            color=colour,
            edgecolor=edge,
            linewidth=2,
        )
        if end > split:
            axes.barh(row, end - split, left=split, color=light, edgecolor=edge, linewidth=2)
        for at, state in ((s["at"], s["state"]) for s in bar["states"]):
            label = state if len(state) <= 14 else state[:13] + "…"
            axes.text(at, row - 0.42, label, fontsize=6.5, va="bottom", color="#333333")
        axes.text(end + last / 150, row, f"{end - bar['start']:.1f}s", va="center", fontsize=7)
    phases = [p for p in document["phases"] if p["end"] is not None]
    for phase in phases:
        axes.axvspan(phase["start"], phase["end"], color="#f2f2f2", zorder=0)
    for before, after in itertools.pairwise(phases):  # what ran in between: the suites
        if after["start"] - before["end"] > last / 20:
            middle = (before["end"] + after["start"]) / 2
            gap = after["start"] - before["end"]
            axes.text(
                middle, len(bars) / 2, f"suites run on the stack\n{gap:.0f}s", ha="center", color="#7f7f7f"
            )
    labels = [b["step"] + (" (teardown)" if b["phase"] == "teardown" else "") for b in bars]
    axes.set_yticks(range(len(bars)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("seconds since the run began")
    critical = document["critical_path"]
    axes.set_title(
        f"run {document['run_id']}: provisioning {document['provisioning_wall_seconds']:.1f}s, "
        f"critical path {critical['seconds']:.1f}s ({' > '.join(critical['steps'])})",
        fontsize=9,
    )
    axes.legend(
        handles=[
            Patch(color=COLOURS["provisioning"][0], label="statements"),
            Patch(color=COLOURS["provisioning"][1], label="waiting (pool, service, URL)"),
            Patch(facecolor="white", edgecolor=CRITICAL, linewidth=2, label="critical path"),
            Patch(color=COLOURS["teardown"][0], label="teardown"),
            Patch(color=FAILED, label="failed"),
        ],
        fontsize=7,
        loc="upper right",
    )
    axes.set_xlim(0, last * 1.08)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
