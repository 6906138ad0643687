"""Where the time of a ``pytest -m local`` run goes, and how much of it is harness overhead.

Runs the local suites in this process with timers wrapped around the irreducible work: model load,
backend start, embedding, and Milvus operations (create, insert, search, count); the notebook reports
its own model load and demo time. Model load means what it takes to get a usable model: importing
the inference stack (torch, sentence-transformers) and reading the weights, in the test process and
again in the notebook's kernel. Everything else (the harness's other imports, pytest, kernel
start-up, fixtures) is overhead.
Usage: ``python -m bench.local_path [--milvus-backend lite|server] [pytest args...]``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

REPORT = Path(__file__).parent / "reports" / "local_path.md"
IRREDUCIBLE = (
    "model load",
    "backend start",
    "embedding",
    "milvus ops",
    "notebook model load",
    "notebook demo",
)


class ExclusiveTimers:
    """Wall time per category, exclusive of nested timed calls (insert -> embed counts once). The main
    thread's time only: what other threads do overlaps it (a kernel shut down in the background), and
    one stack of open calls cannot follow two threads."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []  # child time accumulated per open frame

    def record(self, category: str, seconds: float) -> None:
        """Time measured by hand inside whatever timed call is open: counted once, in ``category``."""
        self.seconds[category] += seconds
        if self._stack:
            self._stack[-1] += seconds

    def wrap(self, category: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not threading.main_thread():
                return func(*args, **kwargs)
            self._stack.append(0.0)
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                children = self._stack.pop()
                self.seconds[category] += elapsed - children
                if self._stack:
                    self._stack[-1] += elapsed

        return timed


@contextlib.contextmanager
def instrumented(timers: ExclusiveTimers) -> Iterator[None]:
    from milvus_spcs import notebook
    from milvus_spcs.backends.base import MilvusBackend
    from milvus_spcs.search import collection
    from milvus_spcs.search.embedder import Embedder

    original_execute = notebook.execute_notebook

    def execute_and_account(*args: Any, **kwargs: Any) -> Any:
        run = original_execute(*args, **kwargs)
        timers.seconds["notebook model load"] += run.result["seconds"]["model_load"]
        timers.seconds["notebook demo"] += run.result["seconds"]["demo"]
        timers.seconds["notebook kernel and imports"] -= sum(run.result["seconds"].values())
        return run

    milvus_ops = [
        "create_collection",
        "drop_collection",
        "clear",
        "insert_documents",
        "upsert_documents",
        "search_vector",
        "count",
        "describe_fields",
    ]
    patches = [
        mock.patch.object(Embedder, "__init__", timers.wrap("model load", Embedder.__init__)),
        mock.patch.object(Embedder, "embed", timers.wrap("embedding", Embedder.embed)),
        mock.patch.object(MilvusBackend, "start", timers.wrap("backend start", MilvusBackend.start)),
        mock.patch.object(
            notebook, "execute_notebook", timers.wrap("notebook kernel and imports", execute_and_account)
        ),
        *(
            mock.patch.object(collection, op, timers.wrap("milvus ops", getattr(collection, op)))
            for op in milvus_ops
        ),
    ]
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


def breakdown(
    seconds: dict[str, float], total: float, irreducible_names: tuple[str, ...], *, phase: str, name: str
) -> tuple[list[str], str]:
    """The markdown table of where ``total`` went, printed, and the one-line summary
    ``<name>: total=.. irreducible=.. overhead=..%`` (shared by bench.local_path and bench.spcs_path)."""
    irreducible = sum(seconds[k] for k in irreducible_names)
    overhead = 100.0 * (total - irreducible) / total
    rows = sorted(seconds.items(), key=lambda kv: -kv[1])
    lines = [
        f"| {phase} | seconds | share | irreducible |",
        "|---|---:|---:|:---:|",
        *(
            f"| {row} | {sec:.2f} | {100 * sec / total:.1f}% | {'yes' if row in irreducible_names else ''} |"
            for row, sec in rows
        ),
        f"| **total** | **{total:.2f}** | 100% | |",
    ]
    summary = f"{name}: total={total:.2f} irreducible={irreducible:.2f} overhead={overhead:.1f}%"
    print("\n".join(lines))
    print(summary)
    return lines, summary


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--milvus-backend", default="lite", choices=["lite", "server"])
    args, pytest_args = parser.parse_known_args(argv)

    timers = ExclusiveTimers()
    import_started = time.perf_counter()
    import pymilvus  # noqa: F401  (timed: what the harness imports before any work)
    import pytest

    import milvus_spcs.search  # noqa: F401  (does not import the inference stack: Embedder does)

    timers.seconds["imports"] = time.perf_counter() - import_started

    with instrumented(timers):
        code = pytest.main(
            [
                "-m",
                "local",
                "-q",
                "-p",
                "no:cacheprovider",
                "--milvus-backend",
                args.milvus_backend,
                *pytest_args,
            ]
        )
    total = time.perf_counter() - started
    timers.seconds["pytest and fixtures (rest)"] = total - sum(timers.seconds.values())

    lines, summary = breakdown(
        timers.seconds, total, IRREDUCIBLE, phase=f"phase ({args.milvus_backend})", name="local-run"
    )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        "# Local run breakdown\n\n`python -m bench.local_path`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, pytest exit {code}\n\n"
        + "\n".join(lines)
        + f"\n\n`{summary}`\n"
    )
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
