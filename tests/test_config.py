from __future__ import annotations

from pathlib import Path

import pytest

from milvus_spcs.config import resolve_config
from milvus_spcs.errors import PreflightError


def test_defaults_are_embedded_and_offline() -> None:
    cfg = resolve_config({}, {})
    assert cfg.milvus_backend == "lite"
    assert cfg.milvus_uri is None
    assert cfg.artifacts_dir == Path("artifacts")
    assert len(cfg.run_id) == 6


def test_option_beats_environment_beats_default() -> None:
    env = {"MILVUS_SPCS_BACKEND": "server", "MILVUS_SPCS_RUN_ID": "abc123"}
    assert resolve_config({}, env).milvus_backend == "server"
    assert resolve_config({"milvus_backend": "lite"}, env).milvus_backend == "lite"
    assert resolve_config({}, env).run_id == "abc123"


def test_config_is_frozen() -> None:
    cfg = resolve_config({}, {})
    with pytest.raises(AttributeError):
        cfg.milvus_backend = "server"  # type: ignore[misc]


def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(PreflightError, match="unknown Milvus backend 'docker'") as info:
        resolve_config({"milvus_backend": "docker"}, {})
    assert "lite, server, container, uri" in str(info.value)


def test_uri_backend_needs_a_uri() -> None:
    with pytest.raises(PreflightError, match="needs the address"):
        resolve_config({"milvus_backend": "uri"}, {})
    assert resolve_config({"milvus_backend": "uri"}, {"MILVUS_SPCS_MILVUS_URI": "http://h:19530"}).milvus_uri


@pytest.mark.parametrize("run_id", ["ABC123", "abc", "abc-12", "abcdefg"])
def test_malformed_run_id_is_refused(run_id: str) -> None:
    with pytest.raises(PreflightError, match="run id"):
        resolve_config({"run_id": run_id}, {})


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(PreflightError, match="unknown settings: colour"):
        resolve_config({"colour": "blue"}, {})
