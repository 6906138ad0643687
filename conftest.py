"""Root conftest: only the plugin list and the report header (logic lives in fixtures/ and src/)."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "fixtures.options",
    "fixtures.milvus",
    "fixtures.spcs",
    "fixtures.connections",
    "fixtures.parallel",
]


def pytest_report_header(config: pytest.Config) -> list[str]:
    from fixtures.options import harness_config_of
    from milvus_spcs.milvus_versions import report_line

    cfg = harness_config_of(config)
    spcs = (
        f"connection {cfg.snowflake_connection}"
        if cfg.snowflake_connection
        else f"the bundled emulator, self-started (profile {cfg.emulator_profile})"
    )
    lines = [
        f"milvus-spcs: run={cfg.run_id} milvus-backend={cfg.milvus_backend} artifacts={cfg.run_artifacts}",
        f"milvus-spcs: -m spcs runs against {spcs}",
        report_line(),
    ]
    if cfg.milvus_backend == "container":
        from milvus_spcs.backends.container import header_line

        lines.append(header_line(cfg.milvus_image))
    return lines
