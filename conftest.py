"""Root conftest: only the plugin list and the report header (logic lives in fixtures/ and src/)."""

from __future__ import annotations

import pytest

pytest_plugins = ["fixtures.options", "fixtures.milvus"]


def pytest_report_header(config: pytest.Config) -> list[str]:
    from fixtures.options import harness_config_of

    cfg = harness_config_of(config)
    return [
        f"milvus-spcs: run={cfg.run_id} milvus-backend={cfg.milvus_backend} artifacts={cfg.run_artifacts}"
    ]
