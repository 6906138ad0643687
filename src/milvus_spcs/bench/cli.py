"""``python -m bench.scale`` / ``milvus-spcs bench``: search at scale per Milvus backend and in SPCS.

Examples::

    python -m bench.scale                                  # 20,000 documents on lite and server
    python -m bench.scale --size 100000
    python -m bench.scale --quick                          # smoke test: seconds, report under artifacts/
    python -m bench.scale --backends spcs --quick          # in the Jupyter kernel, self-started emulator
    python -m bench.scale --backends spcs --snowflake-connection NAME \\
        --image-repository DB.SCHEMA.REPO --image-tag TAG  # the same on a real account
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from milvus_spcs.bench.run import TARGETS, Options, parse_targets, run, validate

RESULTS_DIR = Path("bench/results")
QUICK_RESULTS_DIR = Path("artifacts/scale")
QUICK_SIZE, QUICK_QUERIES = 1_000, 50


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join((__doc__ or "").splitlines()[2:]),
    )
    p.add_argument("--size", type=int, default=20_000, help="documents (default 20000)")
    p.add_argument("--queries", type=int, default=500, help="held-out queries, at least 500 (default)")
    p.add_argument("--seed", type=int, default=0, help="draws the corpus and queries (default 0)")
    p.add_argument(
        "--backends",
        default="lite,server",
        help=f"comma-separated, from {', '.join(TARGETS)} (default lite,server)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: {QUICK_SIZE} documents, {QUICK_QUERIES} queries, standard-library corpus",
    )
    p.add_argument("--cache-dir", type=Path, default=Path(".cache/scale"), help="sentence pool and vectors")
    p.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help=f"default {RESULTS_DIR} ({QUICK_RESULTS_DIR} with --quick)",
    )
    p.add_argument("--milvus-uri", default=None, help="the Milvus of backend uri")
    p.add_argument(
        "--milvus-image", default=None, help="the container backend's image (e.g. milvus-spcs/milvus:dev)"
    )
    p.add_argument(
        "--snowflake-connection",
        default=None,
        help="spcs: connections.toml entry (default: self-started emulator)",
    )
    p.add_argument(
        "--image-repository", default=None, help="spcs on a real account: DB.SCHEMA.REPO with the images"
    )
    p.add_argument("--image-tag", default=None, help="spcs on a real account: tag of the pushed images")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        targets = parse_targets(args.backends)
    except ValueError as exc:
        parser().error(str(exc))
    options = Options(
        size=QUICK_SIZE if args.quick else args.size,
        queries=QUICK_QUERIES if args.quick else args.queries,
        seed=args.seed,
        targets=targets,
        quick=args.quick,
        cache_dir=args.cache_dir,
        milvus_uri=args.milvus_uri,
        milvus_image=args.milvus_image,
        snowflake_connection=args.snowflake_connection,
        image_repository=args.image_repository,
        image_tag=args.image_tag,
        command="python -m bench.scale " + shlex.join(sys.argv[1:] if argv is None else argv),
    )
    try:
        validate(options, targets)
    except ValueError as exc:
        parser().error(str(exc))
    from milvus_spcs.bench.plots import plot
    from milvus_spcs.bench.report import render, result_stem

    outcome = run(options, report=lambda line: print(line, flush=True))
    folder = args.results_dir or (QUICK_RESULTS_DIR if args.quick else RESULTS_DIR)
    stem = result_stem(options)
    plots = plot(outcome.results, folder, stem)
    text = render(options, outcome, plots)
    path = folder / f"{stem}.md"
    path.write_text(text)
    print(text)
    print(f"scale: report {path}, plots {', '.join(str(p) for p in plots)}")
    return 1 if outcome.failed else 0
