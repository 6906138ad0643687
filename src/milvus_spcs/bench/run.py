"""One benchmark run: prepare the workload, measure numpy and each target, write the report."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from milvus_spcs.backends.base import BackendUnavailable, MilvusBackend
from milvus_spcs.bench.local_targets import make_target, peak_rss_mb, serving_pid
from milvus_spcs.bench.measure import FLAT, HNSW, IndexSpec, Result, milvus_index, numpy_baseline
from milvus_spcs.bench.workload import Workload, prepare
from milvus_spcs.errors import WaitFailed, WaitTimeout

TARGETS = ("lite", "server", "container", "uri", "spcs")
# Every backend here supports both: FLAT (exact, the recall reference inside Milvus) and HNSW (graph).
INDEXES: dict[str, tuple[IndexSpec, ...]] = {name: (FLAT, HNSW) for name in TARGETS}
CONCURRENCIES = (1, 2, 8)
START_ATTEMPTS, START_TIMEOUT = 3, 90.0
QUICK_CONCURRENCIES = (1, 2)


@dataclass
class Options:
    size: int = 20_000
    queries: int = 500
    seed: int = 0
    targets: list[str] = field(default_factory=lambda: ["lite", "server"])
    quick: bool = False
    cache_dir: Path = Path(".cache/scale")
    data_dir: Path = Path("artifacts/scale/data")  # each local backend's data and logs
    milvus_uri: str | None = None
    milvus_image: str | None = None  # the container backend's image (default: the pinned real one)
    snowflake_connection: str | None = None
    image_repository: str | None = None
    image_tag: str | None = None
    command: str = ""

    @property
    def concurrencies(self) -> tuple[int, ...]:
        return QUICK_CONCURRENCIES if self.quick else CONCURRENCIES


@dataclass
class Outcome:
    workload: Workload
    results: list[Result]
    skipped: dict[str, str]  # target -> why (not available here)
    failed: dict[str, str]  # target -> the error
    seconds: float
    descriptions: dict[str, str]


def start_local(name: str, options: Options, report: Callable[[str], None]) -> tuple[MilvusBackend, str]:
    """A fresh Milvus (its data and logs under ``options.data_dir``). milvus-server picks its ports by
    binding and releasing them, so another process on the machine can take one in between (seen here:
    the metrics port, then a panic and no answer): such a start is retried, not measured."""
    for attempt in range(1, START_ATTEMPTS + 1):
        data = options.data_dir / name
        shutil.rmtree(data, ignore_errors=True)
        backend = make_target(name, data, options.milvus_uri, options.milvus_image)
        started = time.perf_counter()
        try:
            uri = backend.start(ready_timeout=START_TIMEOUT)
        except (WaitFailed, WaitTimeout) as exc:
            if attempt == START_ATTEMPTS:
                raise
            report(f"{name}: start attempt {attempt} failed ({exc}); retrying")
            continue
        report(f"{name}: serving at {uri} after {time.perf_counter() - started:.1f} s")
        return backend, uri
    raise AssertionError("unreachable")


def measure_local(
    name: str, options: Options, workload: Workload, report: Callable[[str], None]
) -> tuple[list[Result], str]:
    backend, uri = start_local(name, options, report)
    try:
        results = [
            milvus_index(
                uri,
                name,
                spec,
                workload.documents,
                workload.queries,
                workload.truth,
                options.concurrencies,
                report=report,
            )
            for spec in INDEXES[name]
        ]
        pid = serving_pid(backend)
        if pid is not None:
            rss = peak_rss_mb(pid)
            for result in results:
                result.peak_rss_mb = rss  # one process served every index: its peak over all
        return results, backend.describe()
    finally:
        backend.stop()


@contextlib.contextmanager
def jupyter_of_stack(options: Options, report: Callable[[str], None]) -> Iterator[tuple[object, str]]:
    """A provisioned stack (self-started emulator, or the named connection) and a Jupyter client on
    its ingress as the run's user; torn down on exit."""
    from milvus_spcs.config import resolve_config
    from milvus_spcs.jupyter_client import JupyterOverIngress
    from milvus_spcs.stack.run import provisioned_stack
    from milvus_spcs.target import resolve_target

    config = resolve_config(
        {
            "snowflake_connection": options.snowflake_connection,
            "image_repository": options.image_repository,
            "image_tag": options.image_tag,
        },
        {},
    )
    target = resolve_target(config)
    with provisioned_stack(target, config, report=report, close=True) as state:
        conn, token = target.session_token(state.names.user, state.password)
        try:
            yield (
                JupyterOverIngress(f"{target.ingress_scheme}://{state.ingress_host}", token),
                f"{target.description}, run {state.names.run_id}, Milvus service reached as MILVUS_URI",
            )
        finally:
            conn.close()


def measure_spcs(
    options: Options, workload: Workload, report: Callable[[str], None]
) -> tuple[list[Result], str]:
    from milvus_spcs.bench.in_kernel import run_in_kernel
    from milvus_spcs.jupyter_client import JupyterOverIngress

    with jupyter_of_stack(options, report) as (jupyter, description):
        assert isinstance(jupyter, JupyterOverIngress)
        results = run_in_kernel(
            jupyter,
            workload.documents,
            workload.queries,
            workload.truth,
            INDEXES["spcs"],
            options.concurrencies,
        )
        return results, description


def run(options: Options, report: Callable[[str], None] = print) -> Outcome:
    started = time.perf_counter()
    workload = prepare(
        options.size,
        options.queries,
        options.seed,
        options.cache_dir,
        stdlib_only=options.quick,
        report=report,
    )
    results = [numpy_baseline(workload.documents, workload.queries, workload.truth, options.concurrencies)]
    report(f"numpy: p50 {results[0].latency_ms['p50']:.2f} ms")
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for name in options.targets:
        try:
            if name == "spcs":
                found, descriptions[name] = measure_spcs(options, workload, report)
            else:
                found, descriptions[name] = measure_local(name, options, workload, report)
        except BackendUnavailable as exc:
            skipped[name] = exc.reason
            report(f"{name}: skipped: {exc.reason}")
            continue
        except Exception as exc:  # the other backends' figures still count; the run exits non-zero
            failed[name] = f"{type(exc).__name__}: {exc}"
            report(f"{name}: FAILED: {failed[name]}")
            continue
        results.extend(found)
    return Outcome(workload, results, skipped, failed, time.perf_counter() - started, descriptions)


def parse_targets(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown or not names:
        raise ValueError(f"unknown backend(s) {unknown or text!r}; choose from {', '.join(TARGETS)}")
    return names


def validate(options: Options, targets: Sequence[str]) -> None:
    if options.quick:
        return
    if options.queries < 500:
        raise ValueError("--queries must be at least 500 (held out) outside --quick")
