"""Root conftest: this repository's own plugins. The harness's options, markers and fixtures come from
its pytest plugin (milvus_spcs.pytest_plugin, loaded through the installed package's entry point)."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "fixtures.suites",
    "fixtures.connections",
    "fixtures.parallel",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
