"""The guide's SQL (tests/emulator/data): its statements, and its whole setup run on an emulator."""

from __future__ import annotations

import re
from pathlib import Path

from spcs_emulator.emulator import Emulator
from tests.emulator.images import publish
from tests.emulator.sql import rows

DATA = Path(__file__).parent / "data"


def statements(path: Path) -> list[str]:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*\n", text + "\n") if s.strip()]


def run_guide_setup(emu: Emulator, cur) -> None:
    """The guide's account, images, specs and services (MILVUS, JUPYTER) of MILVUS_DEMO.PUBLIC."""
    for sql in statements(DATA / "guide_setup.sql"):
        cur.execute(sql)
    repo = rows(cur, "SHOW IMAGE REPOSITORIES LIKE 'MILVUS\\\\_REPO' IN SCHEMA MILVUS_DEMO.PUBLIC")[0][
        "repository_url"
    ]
    publish(emu, f"{repo}/milvus:latest", "milvus")
    publish(emu, f"{repo}/jupyter:latest", "jupyter")
    for spec in ("milvus.yaml", "jupyter.yaml"):
        cur.execute(f"PUT file://{DATA / spec} @yaml_stage overwrite=true auto_compress=false")
    for sql in statements(DATA / "guide_services.sql"):
        cur.execute(sql)
