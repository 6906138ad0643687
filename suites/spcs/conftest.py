"""Suite-local ordering: destructive tests (they suspend services) run after everything else."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("destructive") is not None)
