"""The team's data: its documents and its questions (the harness's fixtures come from its plugin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml


@pytest.fixture(scope="session")
def handbook() -> dict[str, Any]:
    return yaml.safe_load((Path(__file__).parent / "handbook.yaml").read_text())
