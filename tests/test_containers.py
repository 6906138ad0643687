"""The container half's own logic: images named for what they are, no pull ever attempted by the
harness, and a clear skip where no engine answers. The images themselves run in suites/docker and in
`pytest -m local --milvus-backend container` (.ci/run builds them first)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from milvus_spcs.backends.container import ContainerBackend
from milvus_spcs.docker_engine import MILVUS_VERSION_LABEL, STANDIN_LABEL, describe_labels, docker_client
from milvus_spcs.docker_engine import docker_engine_problem as engine_problem
from milvus_spcs.errors import PreflightError
from milvus_spcs.images import build
from milvus_spcs.images.build import Base, BuiltImage, compose_environment
from milvus_spcs.images.commands import BuildLog

REPO = Path(__file__).resolve().parents[1]


def test_a_stand_in_says_so_and_names_its_milvus() -> None:
    labels = {STANDIN_LABEL: "milvusdb/milvus", MILVUS_VERSION_LABEL: "2.3.5"}
    assert (
        describe_labels("milvus-spcs/milvus:dev", labels) == "milvus-spcs/milvus:dev: stand-in (Milvus 2.3.5)"
    )
    real = {MILVUS_VERSION_LABEL: "2.6.10"}
    assert (
        describe_labels("milvus-spcs/milvus:v1", real) == "milvus-spcs/milvus:v1: real base (Milvus 2.6.10)"
    )
    assert "not on the engine" in describe_labels("x/y:z", None)


def test_build_lines_name_the_base_and_the_milvus_release() -> None:
    standin = BuiltImage("milvus-spcs/milvus:dev", Base("milvus-spcs/standin-milvus:2.3.5", True, "2.3.5"))
    jupyter = BuiltImage("milvus-spcs/jupyter:dev", Base("python:3.11-slim", False, None))
    assert standin.line() == "image: milvus-spcs/milvus:dev base=stand-in milvus=2.3.5"
    assert jupyter.line() == "image: milvus-spcs/jupyter:dev base=real milvus=-"


def test_compose_builds_offline_only_when_every_base_is_a_stand_in() -> None:
    standins = {"milvus": Base("s/m:1", True, "2.3.5"), "jupyter": Base("s/p:1", True, None)}
    env = compose_environment(standins)
    assert env == {"MILVUS_BASE": "s/m:1", "PYTHON_BASE": "s/p:1", "MILVUS_SPCS_BUILD_NETWORK": "none"}
    mixed = {**standins, "jupyter": Base("python:3.11-slim", False, None)}
    assert compose_environment(mixed)["MILVUS_SPCS_BUILD_NETWORK"] == "default"


class FakeClient:
    def __init__(self, info: dict[str, str]) -> None:
        self._info = info

    def info(self) -> dict[str, str]:
        return self._info

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("proxy", "refused"),
    [
        ("http://127.0.0.1:9", True),
        ("http://localhost:9", True),
        ("http://proxy.corp:3128", False),
        ("", False),
    ],
)
def test_an_engine_behind_a_loopback_proxy_is_never_asked_to_pull(
    monkeypatch: pytest.MonkeyPatch, proxy: str, refused: bool
) -> None:
    monkeypatch.setattr(build, "docker_client", lambda: FakeClient({"HttpsProxy": proxy, "HttpProxy": proxy}))
    assert (build.pull_refusal() is not None) == refused


def test_auto_takes_a_stand_in_without_pulling_where_pulls_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pulls: list[str] = []
    monkeypatch.setattr(build, "image_labels", lambda reference: None)  # no real base on the engine
    monkeypatch.setattr(build, "pull_refusal", lambda: "the engine's HttpsProxy is http://127.0.0.1:9")
    monkeypatch.setattr(build, "pull", lambda reference, log: pulls.append(reference))
    monkeypatch.setattr(build.standins, "build_python", lambda log: "milvus-spcs/standin-python:3.11")
    jupyter = next(r for r in build.RECIPES if r.name == "jupyter")
    base = build.choose_base(jupyter, "auto", BuildLog(tmp_path / "log"))
    assert base == Base("milvus-spcs/standin-python:3.11", True, None)
    assert pulls == []


def test_real_bases_where_pulls_are_refused_fail_naming_the_image(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(build, "image_labels", lambda reference: None)
    monkeypatch.setattr(build, "pull_refusal", lambda: "the engine's HttpsProxy is http://127.0.0.1:9")
    milvus = next(r for r in build.RECIPES if r.name == "milvus")
    with pytest.raises(PreflightError) as refused:
        build.choose_base(milvus, "real", BuildLog(tmp_path / "log"))
    assert "milvusdb/milvus:v2.6.10" in str(refused.value)
    assert "--bases local" in str(refused.value)


needs_engine = pytest.mark.skipif(
    engine_problem() is not None, reason=f"no Docker engine: {engine_problem()}"
)


@needs_engine
def test_a_missing_image_fails_naming_it_and_nothing_is_pulled() -> None:
    image = "milvus-spcs/never-built:x1"
    since = int(time.time()) - 1
    backend = ContainerBackend(image, run_id="nopull")
    with pytest.raises(PreflightError) as refused:
        backend.start(ready_timeout=30)
    assert image in str(refused.value)
    assert "milvus-spcs images build" in str(refused.value)
    client = docker_client()
    try:
        events: list[dict[str, Any]] = list(
            client.events(since=since, until=int(time.time()) + 1, filters={"type": "image"}, decode=True)
        )
    finally:
        client.close()
    assert [e for e in events if e.get("Action") == "pull"] == []
    assert [e for e in events if image in str(e.get("id", ""))] == []


@pytest.mark.parametrize(
    ("selection", "reason"),
    [
        (["-m", "docker"], "needs a Docker engine: no Docker engine answers"),
        (
            ["-m", "local", "--milvus-backend", "container"],
            "container needs a Docker engine: no Docker engine",
        ),
    ],
    ids=["docker-suite", "container-backend"],
)
def test_without_an_engine_every_container_test_skips_saying_why(
    tmp_path: Path, selection: list[str], reason: str
) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *selection,
            "-p",
            "no:cacheprovider",
            "-rs",
            "-q",
            "--artifacts-dir",
            str(tmp_path / "artifacts"),
            "-k",
            "not properties",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert "passed" not in summary, summary
    assert "failed" not in summary, summary
    assert "error" not in summary, summary
    assert "skipped" in summary, summary
    assert reason in done.stdout, done.stdout[-3000:]
    assert "bash scripts/install-docker.sh" in done.stdout
