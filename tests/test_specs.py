"""specs/ templates and the spec policy: what the guide's specs got wrong must be caught, ours must pass."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from milvus_spcs.naming import StackNames
from milvus_spcs.specs import (
    SpecError,
    check_spec_policy,
    milvus_version,
    parse_spec,
    public_ports,
    render_spec,
    spec_variables,
)
from spcs_emulator.errors import SnowflakeError
from spcs_emulator.spcs import spec as emulator_spec

SPECS = Path(__file__).resolve().parents[1] / "specs"
TEMPLATES = ("milvus.yaml", "jupyter.yaml")
PASSWORD = "Gen3rated-Passw0rd-xyz"

# The guide's specs as DESIGN.md §2 describes them: etcd, health and gRPC public, the Snowflake
# password a literal in env, a release-candidate image, Milvus on local storage, a Stage Mount V1 volume.
REFERENCE_MILVUS = """
spec:
  containers:
  - name: milvus
    image: /milvus_demo/public/milvus_repo/milvus:v2.4.0-rc.1
    env:
      ETCD_USE_EMBED: "true"
      COMMON_STORAGETYPE: local
  endpoints:
  - name: etcd
    port: 2379
    public: true
  - name: health
    port: 9091
    public: true
  - name: grpc
    port: 19530
    public: true
"""
REFERENCE_JUPYTER = """
spec:
  containers:
  - name: jupyter
    image: /milvus_demo/public/milvus_repo/jupyter:v1
    env:
      SNOWFLAKE_USER: milvus_user
      SNOWFLAKE_PASSWORD: milvus_password
    volumeMounts:
    - name: files
      mountPath: /home/jupyter
  endpoints:
  - name: jupyter
    port: 8888
    public: true
  volumes:
  - name: files
    source: "@files"
"""


@pytest.fixture
def variables() -> dict[str, str]:
    return spec_variables(StackNames("abc123"), milvus_tag="v2.6.10", jupyter_tag="run-abc123")


@pytest.fixture
def milvus_spec(variables: dict[str, str]) -> dict[str, Any]:
    return parse_spec(render_spec(SPECS / "milvus.yaml", variables))


@pytest.fixture
def jupyter_spec(variables: dict[str, str]) -> dict[str, Any]:
    return parse_spec(render_spec(SPECS / "jupyter.yaml", variables))


def one_violation(spec: dict[str, Any], *, known_secrets: tuple[str, ...] = ()) -> str:
    problems = check_spec_policy(spec, known_secrets)
    assert len(problems) == 1, problems
    return problems[0]


def with_endpoint(spec: dict[str, Any], name: str, port: int) -> dict[str, Any]:
    changed = copy.deepcopy(spec)
    changed["spec"].setdefault("endpoints", []).append({"name": name, "port": port, "public": True})
    return changed


def with_image(spec: dict[str, Any], image: str) -> dict[str, Any]:
    changed = copy.deepcopy(spec)
    changed["spec"]["containers"][0]["image"] = image
    return changed


# -- the templates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("template", TEMPLATES)
def test_rendered_templates_pass_the_policy(template: str, variables: dict[str, str]) -> None:
    text = render_spec(SPECS / template, variables)
    assert "${" not in text.split("\nspec:\n", 1)[1]
    assert check_spec_policy(parse_spec(text), known_secrets=[PASSWORD]) == []


@pytest.mark.parametrize("template", TEMPLATES)
def test_rendered_templates_are_accepted_by_the_emulator(template: str, variables: dict[str, str]) -> None:
    parsed = emulator_spec.parse_spec(render_spec(SPECS / template, variables))
    assert parsed.containers[0].image.startswith("/milvus_spcs_abc123_db/public/images/")


def test_milvus_spec_has_no_public_endpoint_a_block_volume_and_a_health_probe(
    variables: dict[str, str],
) -> None:
    text = render_spec(SPECS / "milvus.yaml", variables)
    parsed = emulator_spec.parse_spec(text)
    container = parsed.containers[0]
    assert container.name == "milvus"
    assert container.image == "/milvus_spcs_abc123_db/public/images/milvus:v2.6.10"
    assert public_ports(parse_spec(text)) == {}
    # 9091 is not even declared: nothing but the readiness probe needs it (CVE-2026-26190, /management/*).
    assert [(e.name, e.port, e.protocol) for e in parsed.endpoints] == [("grpc", 19530, "TCP")]
    assert container.readiness == (9091, "/healthz")
    assert [(v.name, v.source, v.size) for v in parsed.volumes] == [("data", "block", "10Gi")]
    assert container.mounts == {"data": "/var/lib/milvus"}


def test_jupyter_spec_exposes_only_jupyter_and_points_at_milvus_by_dns(jupyter_spec: dict[str, Any]) -> None:
    container = jupyter_spec["spec"]["containers"][0]
    assert container["name"] == "jupyter"
    assert public_ports(jupyter_spec) == {8888: "jupyter"}
    assert container["readinessProbe"] == {"port": 8888, "path": "/api"}
    assert container["env"] == {"MILVUS_URI": "http://milvus:19530", "MILVUS_COLLECTION": "milvus_spcs_demo"}
    assert "secrets" not in container  # the notebook needs no Snowflake credentials


def test_a_missing_variable_is_named(variables: dict[str, str]) -> None:
    del variables["milvus_tag"]
    with pytest.raises(SpecError, match=r"milvus\.yaml needs the variable 'milvus_tag'"):
        render_spec(SPECS / "milvus.yaml", variables)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("image_prefix", "/MILVUS_DB/public/images", "image_prefix"),
        ("image_prefix", "/db/public", "image_prefix"),
        ("milvus_tag", "latest", "'latest' moves"),
        ("jupyter_tag", "v1 # injected", "not an image tag"),
        ("milvus_service_dns", "milvus\nevil: 1", "not a lower-case DNS name"),
    ],
)
def test_malformed_variables_are_refused(
    variables: dict[str, str], name: str, value: str, message: str
) -> None:
    variables[name] = value
    with pytest.raises(SpecError, match=message):
        render_spec(SPECS / "jupyter.yaml", variables)


# -- the policy, one flaw at a time ------------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "port"), [("health", 9091), ("etcd", 2379), ("grpc-public", 19530)])
def test_a_public_sensitive_port_is_a_violation_naming_it(
    milvus_spec: dict[str, Any], endpoint: str, port: int
) -> None:
    problem = one_violation(with_endpoint(milvus_spec, endpoint, port))
    assert problem.startswith(f"endpoint '{endpoint}' makes port {port} public")


def test_the_health_port_violation_names_the_cve(milvus_spec: dict[str, Any]) -> None:
    assert "CVE-2026-26190" in one_violation(with_endpoint(milvus_spec, "health", 9091))


def test_a_public_port_range_covering_etcd_is_a_violation(milvus_spec: dict[str, Any]) -> None:
    changed = copy.deepcopy(milvus_spec)
    changed["spec"]["endpoints"].append({"name": "range", "portRange": "2000-3000", "public": True})
    assert "makes port 2379 public" in one_violation(changed)


def test_a_private_sensitive_port_is_fine(milvus_spec: dict[str, Any]) -> None:
    changed = copy.deepcopy(milvus_spec)
    changed["spec"]["endpoints"].append({"name": "health", "port": 9091, "public": False})
    assert check_spec_policy(changed) == []


@pytest.mark.parametrize(
    "key", ["SNOWFLAKE_PASSWORD", "milvus_token", "AWS_SECRET", "API_KEY", "CREDENTIALS"]
)
def test_an_env_key_that_looks_like_a_credential_is_a_violation(
    jupyter_spec: dict[str, Any], key: str
) -> None:
    jupyter_spec["spec"]["containers"][0]["env"][key] = "x"
    assert f"env '{key}' looks like a credential" in one_violation(jupyter_spec)


def test_an_env_value_equal_to_a_known_secret_is_a_violation_without_echoing_it(
    jupyter_spec: dict[str, Any],
) -> None:
    jupyter_spec["spec"]["containers"][0]["env"]["SF_USER_PW"] = PASSWORD
    problem = one_violation(jupyter_spec, known_secrets=(PASSWORD,))
    assert "env 'SF_USER_PW' holds a known secret value" in problem
    assert PASSWORD not in problem


def test_a_secret_from_a_secret_object_is_fine(jupyter_spec: dict[str, Any]) -> None:
    jupyter_spec["spec"]["containers"][0]["secrets"] = [
        {
            "snowflakeSecret": {"objectName": "MILVUS_SPCS_ABC123_DB.PUBLIC.MILVUS_CREDENTIALS"},
            "envVarName": "MILVUS_TOKEN",
            "secretKeyRef": "secret_string",
        }
    ]
    assert check_spec_policy(jupyter_spec, known_secrets=(PASSWORD,)) == []


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("/db/public/images/jupyter:latest", "uses the moving tag 'latest'"),
        ("/db/public/images/jupyter", "has no tag"),
        ("registry.example.com:5000/jupyter", "has no tag"),
    ],
)
def test_an_unpinned_image_is_a_violation(jupyter_spec: dict[str, Any], image: str, message: str) -> None:
    assert message in one_violation(with_image(jupyter_spec, image))


def test_an_image_pinned_by_digest_is_fine(jupyter_spec: dict[str, Any]) -> None:
    assert check_spec_policy(with_image(jupyter_spec, "/db/public/images/jupyter@sha256:" + "a" * 64)) == []


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("v2.4.0-rc.1", False),  # the guide's tag
        ("v2.6.9", False),
        ("v2.6.10-rc.1", False),
        ("v2.5.26", False),
        ("v2.3.5", False),
        ("v2.6.10", True),
        ("2.6.12", True),
        ("v2.5.27", True),
        ("v2.7.0", True),
        ("v2.6.10-run-abc123", True),  # a build of the release, not a pre-release
        ("run-abc123", True),  # names no version: the Dockerfile's pin is checked instead
    ],
)
def test_milvus_versions_below_the_cve_fix_are_violations(
    milvus_spec: dict[str, Any], tag: str, ok: bool
) -> None:
    changed = with_image(milvus_spec, f"/db/public/images/milvus:{tag}")
    problems = check_spec_policy(changed)
    if ok:
        assert problems == []
    else:
        assert len(problems) == 1, problems
        assert f"Milvus {tag}" in problems[0]
        assert "CVE-2026-26190" in problems[0]


@pytest.mark.parametrize("tag", ["v3.0.1", "3.1.0", "v3.0.0-run-abc123"])
def test_milvus_3_is_refused_until_the_volume_ownership_is_covered(
    milvus_spec: dict[str, Any], tag: str
) -> None:
    problems = check_spec_policy(with_image(milvus_spec, f"/db/public/images/milvus:{tag}"))
    assert len(problems) == 1, problems
    assert "uid 999" in problems[0]
    assert "test_upgrade" in problems[0]


def test_milvus_version_parsing() -> None:
    assert milvus_version("v2.4.0-rc.1") == ((2, 4, 0), True)
    assert milvus_version("v2.6.10") == ((2, 6, 10), False)
    assert milvus_version("run-abc123") is None


def test_a_stage_mount_v1_volume_is_a_violation(jupyter_spec: dict[str, Any]) -> None:
    jupyter_spec["spec"]["volumes"] = [{"name": "files", "source": "@files"}]
    assert "volume 'files' uses Stage Mount V1" in one_violation(jupyter_spec)


def test_a_stage_mount_v2_volume_is_fine(jupyter_spec: dict[str, Any]) -> None:
    jupyter_spec["spec"]["volumes"] = [
        {"name": "files", "source": "stage", "stageConfig": {"name": "@db.public.files/notebooks"}}
    ]
    assert check_spec_policy(jupyter_spec) == []


def test_milvus_without_a_block_volume_is_a_violation(milvus_spec: dict[str, Any]) -> None:
    milvus_spec["spec"]["volumes"][0]["source"] = "local"
    assert "runs Milvus without a block volume" in one_violation(milvus_spec)


# -- the guide's specs: one violation per flaw --------------------------------------------------------------


def test_the_reference_milvus_spec_gets_one_violation_per_flaw() -> None:
    problems = check_spec_policy(parse_spec(REFERENCE_MILVUS))
    expected = [
        "endpoint 'etcd' makes port 2379 public",
        "endpoint 'health' makes port 9091 public",
        "endpoint 'grpc' makes port 19530 public",
        "Milvus v2.4.0-rc.1 is a pre-release",
        "runs Milvus without a block volume",
    ]
    assert len(problems) == len(expected), problems
    for fragment, problem in zip(expected, problems, strict=True):
        assert fragment in problem


def test_the_reference_jupyter_spec_gets_one_violation_per_flaw() -> None:
    problems = check_spec_policy(parse_spec(REFERENCE_JUPYTER), known_secrets=("milvus_password",))
    expected = ["volume 'files' uses Stage Mount V1", "env 'SNOWFLAKE_PASSWORD' looks like a credential"]
    assert len(problems) == len(expected), problems
    for fragment, problem in zip(expected, problems, strict=True):
        assert fragment in problem


def test_the_emulator_rejects_the_reference_stage_mount_as_snowflake_does() -> None:
    with pytest.raises(SnowflakeError, match="stage mount v1 not supported"):
        emulator_spec.parse_spec(REFERENCE_JUPYTER)


def test_the_milvus_service_statement_runs_one_instance() -> None:
    from milvus_spcs.sqlfiles import load_sql_dir
    from milvus_spcs.stack.spcs_plan import checked_instances

    checked_instances(load_sql_dir())  # the shipped statement passes


@pytest.mark.parametrize(
    "counts", ["MIN_INSTANCES = 1\n  MAX_INSTANCES = 2", "MIN_INSTANCES = 3\n  MAX_INSTANCES = 3"]
)
def test_more_than_one_milvus_instance_fails_preflight_naming_why(tmp_path: Path, counts: str) -> None:
    import shutil

    from milvus_spcs.errors import PreflightError
    from milvus_spcs.sqlfiles import SQL_DIR, load_sql_dir
    from milvus_spcs.stack.spcs_plan import MILVUS_SERVICE_SQL, checked_instances

    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    statement = sql_dir / MILVUS_SERVICE_SQL
    text = statement.read_text()
    assert "MIN_INSTANCES = 1\n  MAX_INSTANCES = 1" in text
    statement.write_text(text.replace("MIN_INSTANCES = 1\n  MAX_INSTANCES = 1", counts))
    with pytest.raises(PreflightError) as refused:
        checked_instances(load_sql_dir(sql_dir))
    assert "Milvus standalone must run one instance" in refused.value.problem
    assert "its own block volume" in refused.value.problem
    assert "MAX_INSTANCES = 1" in refused.value.remedies[0]
