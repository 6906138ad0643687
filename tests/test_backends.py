from __future__ import annotations

from pathlib import Path

import pytest

from milvus_spcs.backends import BackendUnavailable, make_backend
from milvus_spcs.backends import container as container_module
from milvus_spcs.backends.base import wait_until_serving
from milvus_spcs.errors import PreflightError, WaitTimeout


def test_unknown_backend_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match="choose one of: lite, server, container, uri"):
        make_backend("docker", data_dir=tmp_path)


@pytest.mark.parametrize("uri", [None, "", "localhost:19530", "ftp://x"])
def test_uri_backend_refuses_a_missing_or_malformed_uri(tmp_path: Path, uri: str | None) -> None:
    with pytest.raises(PreflightError, match="missing or malformed"):
        make_backend("uri", data_dir=tmp_path, uri=uri)


def test_container_backend_without_docker_is_unavailable_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(container_module, "docker_engine_problem", lambda: "no Docker engine answers (x)")
    backend = make_backend("container", data_dir=tmp_path)
    with pytest.raises(BackendUnavailable, match="needs a Docker engine: no Docker engine answers"):
        backend.start()


def test_container_backend_pins_a_patched_release() -> None:
    tag = container_module.DEFAULT_IMAGE.rsplit(":", 1)[1]
    major, minor, patch = (int(p) for p in tag.lstrip("v").split("."))
    assert (major, minor, patch) >= (2, 6, 10), "CVE-2026-26190 is fixed in 2.6.10"


def test_readiness_wait_reports_the_unreachable_uri() -> None:
    with pytest.raises(WaitTimeout, match=r"Milvus at http://127.0.0.1:9 to answer list_collections"):
        wait_until_serving("http://127.0.0.1:9", timeout=1.0)
