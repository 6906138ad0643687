"""``milvus-spcs record``: the catalogue shipped in tests/conformance/observations, recorded on a target."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from milvus_spcs.conformance.observation import load_dir
from milvus_spcs.conformance.record import record
from milvus_spcs.paths import REPO_ROOT
from milvus_spcs.target import Target

CATALOGUE_DIR = REPO_ROOT / "tests" / "conformance" / "observations"


def record_catalogue(
    target: Target,
    out: Path,
    with_services: bool,
    image: str | None,
    *,
    report: Callable[[str], None],
) -> None:
    try:
        text = record(
            target, load_dir(CATALOGUE_DIR), with_services=with_services, image=image, report=report
        )
    finally:
        target.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
