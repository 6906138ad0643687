"""The harness as a pytest plugin (entry point ``pytest11``: loaded wherever milvus-spcs is installed).

It gives any test suite the harness's options (``--snowflake-connection``, ``--milvus-backend``,
``--specs-dir``, ``--notebooks-dir``, ...), its markers, and its fixtures: the local Milvus backends
(``milvus_client``, ``make_collection``, ``embedder``), the provisioned stack (``spcs_stack``,
``spcs_sql``, ``ingress_url``) and clients inside it (``spcs_jupyter``, ``spcs_kernel``, ``spcs_milvus``,
``spcs_notebook``). Disable it with ``-p no:milvus_spcs``.

Because it is a plugin rather than a conftest, its options are known before pytest reads the command
line: ``--artifacts-dir /tmp/x`` (space-separated, a path outside the project) is an option's value,
not a test path, from any folder.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "milvus_spcs.pytest_fixtures.options",
    "milvus_spcs.pytest_fixtures.milvus",
    "milvus_spcs.pytest_fixtures.spcs",
    "milvus_spcs.pytest_fixtures.jupyter",
]

MARKERS = {
    "local": "offline suites on a local Milvus backend (lite, server, container, uri)",
    "spcs": "acceptance suites that provision the stack on SPCS (real account or the bundled emulator)",
    "docker": "needs a Docker engine; skipped with the reason when none answers",
    "destructive": "changes the shared stack (suspends services): runs after the other spcs tests",
}


# The connector's 5.x nag about a logout default that does not concern the harness's connections.
IGNORED_WARNINGS = ("ignore:enable_server_session_keep_alive_auto_detection:FutureWarning",)


def pytest_configure(config: pytest.Config) -> None:
    for name, meaning in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")
    for line in IGNORED_WARNINGS:
        config.addinivalue_line("filterwarnings", line)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Destructive tests (they suspend services of the shared stack) run after every other test."""
    items.sort(key=lambda item: item.get_closest_marker("destructive") is not None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from milvus_spcs.milvus_versions import report_line
    from milvus_spcs.pytest_fixtures.options import harness_config_of

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
