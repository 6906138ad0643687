"""``milvus-spcs record``: the catalogue shipped in tests/conformance/observations, recorded on a target."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from milvus_spcs.conformance.observation import load_dir
from milvus_spcs.conformance.record import record
from milvus_spcs.errors import HarnessError
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
    """Write the recording to ``out``; then fail if an observation's setup was refused, so that a nightly
    whose catalogue shrank does not pass as agreement."""
    try:
        recording = record(
            target, load_dir(CATALOGUE_DIR), with_services=with_services, image=image, report=report
        )
    finally:
        target.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(recording.text)
    if recording.setup_failures:
        raise HarnessError(
            f"{len(recording.setup_failures)} observation(s) not recorded, their setup was refused "
            f"(written to {out} without them): " + "; ".join(recording.setup_failures)
        )
