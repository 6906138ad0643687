"""Which Milvus answers where: the emulator runs the `milvus` package's binary (2.3.x), the images pin
milvusdb/milvus (2.6.x). A suite green on the emulator has not met the Milvus a real account runs."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version

from milvus_spcs.paths import HARNESS_FILES

MILVUS_DOCKERFILE = HARNESS_FILES / "images" / "milvus" / "Dockerfile"
# What the gap can hide (docs/emulator-coverage.md, "Which Milvus").
GAP = "features, defaults and fixes after 2.3 (e.g. the 2.6 fix of CVE-2026-26190) are not exercised"


def emulated_milvus() -> str:
    """The `milvus` package's version (its bundled binary is what the emulator's milvus runtime runs)."""
    try:
        return version("milvus")
    except PackageNotFoundError:
        return "not installed"


def pinned_milvus() -> str:
    """The milvusdb/milvus tag images/milvus/Dockerfile builds from (its MILVUS_BASE default)."""
    try:
        text = MILVUS_DOCKERFILE.read_text()
        found = re.search(r"^ARG\s+MILVUS_BASE=milvusdb/milvus:v?(\S+)", text, re.MULTILINE)
    except OSError:
        return "unknown"
    return found.group(1) if found else "unknown"


def report_line() -> str:
    return (
        f"milvus-spcs: the emulator runs Milvus {emulated_milvus()} (the `milvus` package), the images pin "
        f"{pinned_milvus()}: {GAP}"
    )
