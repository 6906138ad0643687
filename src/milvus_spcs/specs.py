"""Service specifications: render the specs/ templates, and the policy every rendered spec must meet.

The policy encodes what the guide's specs got wrong (DESIGN.md §2, pitfalls §6.1 and §6.2). Each violation is
one human-readable sentence naming the endpoint, port, container, env key, image or volume at fault,
so a failing check says what to change. Everything here is pure: no I/O besides reading a template.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from milvus_spcs.errors import HarnessError
from milvus_spcs.naming import StackNames, image_tag_problem

# -- rendering -------------------------------------------------------------------------------------------

# Validators are applied with fullmatch: a `$` would let a trailing newline into the YAML.
IMAGE_PREFIX = re.compile(r"/[a-z0-9_]+/[a-z0-9_]+/[a-z0-9_]+")  # /<db>/<schema>/<repository>
DNS_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")
# Any other value lands in YAML unquoted: no spaces, colons, quotes, '#' or newlines that could change
# the document's structure.
PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.@/-]{1,255}")


class SpecError(HarnessError):
    """A template cannot be rendered: a variable is missing or has a value that is not allowed."""


def _check_value(name: str, value: str) -> None:
    if name == "image_prefix":
        if not IMAGE_PREFIX.fullmatch(value):
            raise SpecError(
                f"spec variable image_prefix={value!r} must look like /<database>/<schema>/<repository> "
                "in lower case (e.g. /milvus_spcs_abc123_db/public/images)"
            )
    elif name.endswith("_tag"):
        problem = image_tag_problem(value)
        if problem:
            raise SpecError(f"spec variable {name}: {problem}")
        if value.lower() == "latest":
            raise SpecError(f"spec variable {name} must pin the image: 'latest' moves; use a release tag")
    elif name.endswith("_dns"):
        if not DNS_NAME.fullmatch(value):
            raise SpecError(f"spec variable {name}={value!r} is not a lower-case DNS name")
    elif not PLAIN_VALUE.fullmatch(value):
        raise SpecError(f"spec variable {name}={value!r} may only contain letters, digits and _ . @ / -")


def render_spec(template_path: Path | str, variables: Mapping[str, str]) -> str:
    """The template with every ``${name}`` replaced; a missing or malformed variable raises SpecError.

    ``substitute`` (never ``safe_substitute``): a placeholder left in a spec would reach CREATE SERVICE.
    Extra variables are allowed, so one mapping can serve both templates.
    """
    path = Path(template_path)
    for name, value in variables.items():
        _check_value(name, str(value))
    try:
        return string.Template(path.read_text()).substitute({k: str(v) for k, v in variables.items()})
    except KeyError as exc:
        name = exc.args[0]
        given = ", ".join(sorted(variables)) or "none"
        raise SpecError(f"{path.name} needs the variable {name!r} (given: {given})") from None
    except ValueError as exc:  # a '$' that is neither '$$' nor a valid placeholder
        raise SpecError(f"{path.name} is not a valid template: {exc}") from None


def image_prefix(names: StackNames, repository: str | None = None) -> str:
    """Where the images live, as spec image paths spell it (lower case, as registries store it): the
    run's own repository, or a lasting DB.SCHEMA.REPO the images were pushed to beforehand."""
    path = (
        repository.replace(".", "/") if repository else f"{names.database}/{names.schema}/{names.repository}"
    )
    return f"/{path}".lower()


def spec_variables(
    names: StackNames, *, milvus_tag: str, jupyter_tag: str, repository: str | None = None
) -> dict[str, str]:
    """Every variable of both templates for one run's stack."""
    return {
        "image_prefix": image_prefix(names, repository),
        "milvus_tag": milvus_tag,
        "jupyter_tag": jupyter_tag,
        # SPCS DNS names lower-case the service name and turn '_' into '-'; the short name resolves
        # within the same schema.
        "milvus_service_dns": names.milvus_service.lower().replace("_", "-"),
    }


def parse_spec(text: str) -> dict[str, Any]:
    document = yaml.safe_load(text)
    if not isinstance(document, dict):
        raise SpecError("a service specification must be a YAML mapping with a top-level 'spec'")
    return document


# -- policy ----------------------------------------------------------------------------------------------

# Ports that must never be public, and why (pitfalls §6.1).
SENSITIVE_PORTS: dict[int, str] = {
    9091: (
        "CVE-2026-26190 (GHSA-7ppg-37fh-vcr6: unauthenticated REST API and /expr on Milvus's metrics port, "
        "fixed in 2.5.27 / 2.6.10) and the still unauthenticated /management/* API; "
        "keep it private or do not declare it"
    ),
    2379: "etcd, Milvus's metadata store, answers without authentication; never declare it public",
    19530: (
        "Milvus gRPC/REST answers without authentication (authorization is off by default); "
        "only the Jupyter endpoint may be public"
    ),
}
CREDENTIAL_WORDS = ("PASSWORD", "PASSWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL")
# First releases with the CVE-2026-26190 fix, per release line; lines older than 2.5 never got one.
FIXED_RELEASES: dict[tuple[int, int], int] = {(2, 5): 27, (2, 6): 10}
FIRST_UNAFFECTED_LINE = (2, 7)
MILVUS_VERSION_TAG = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:[-_.](?P<suffix>[A-Za-z0-9_.-]+))?")
PRERELEASE = re.compile(r"(rc|alpha|beta|dev|pre|testing)", re.IGNORECASE)  # a prefix: re.match


def _containers(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    body = spec.get("spec") or {}
    return [c for c in body.get("containers") or [] if isinstance(c, dict)]


def _is_public(endpoint: Mapping[str, Any]) -> bool:
    public = endpoint.get("public", False)
    return public is True or str(public).lower() == "true"


def _endpoint_ports(endpoint: Mapping[str, Any]) -> range:
    if "portRange" in endpoint:
        low, _, high = str(endpoint["portRange"]).partition("-")
        try:
            return range(int(low), int(high or low) + 1)
        except ValueError:
            return range(0)
    try:
        port = int(str(endpoint.get("port")))
    except ValueError:
        return range(0)
    return range(port, port + 1)


def public_ports(spec: Mapping[str, Any]) -> dict[int, str]:
    """Every port a public endpoint opens, mapped to that endpoint's name (port ranges expanded)."""
    body = spec.get("spec") or {}
    ports: dict[int, str] = {}
    for endpoint in body.get("endpoints") or []:
        if isinstance(endpoint, dict) and _is_public(endpoint):
            for port in _endpoint_ports(endpoint):
                ports.setdefault(port, str(endpoint.get("name", "?")))
    return ports


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; name is the last path segment, e.g. 'milvus'."""
    rest, _, digest = image.partition("@")
    last = rest.rsplit("/", 1)[-1]  # a ':' before the last '/' is a registry port, not a tag
    name, sep, tag = last.partition(":")
    return name, (tag if sep else None), (digest or None)


def milvus_version(tag: str) -> tuple[tuple[int, int, int], bool] | None:
    """((major, minor, patch), is_prerelease) of a 'v2.6.10'-style tag; None for other tags."""
    match = MILVUS_VERSION_TAG.fullmatch(tag)
    if not match:
        return None
    suffix = match.group("suffix") or ""
    major, minor, patch = (int(match.group(i)) for i in (1, 2, 3))
    return (major, minor, patch), bool(PRERELEASE.match(suffix))


def milvus_tag_problem(tag: str) -> str | None:
    """Why a Milvus tag is affected by CVE-2026-26190, or None when fixed (or not a version tag).

    A tag that names no version (e.g. a harness build tag like ``run-abc123``) cannot be judged here;
    the Dockerfile's pinned base image is checked instead (tests/test_images.py).
    """
    parsed = milvus_version(tag)
    if parsed is None:
        return None
    (major, minor, patch), prerelease = parsed
    remedy = "pin a released tag at or above 2.6.10 (2.5.27 on the 2.5 line)"
    if prerelease:
        # A release candidate is not a release: it may predate the fix whatever its number says.
        return f"{tag} is a pre-release, not covered by the CVE-2026-26190 fix; {remedy}"
    line = (major, minor)
    if line >= FIRST_UNAFFECTED_LINE:
        return None
    fixed = FIXED_RELEASES.get(line)
    if fixed is None:
        return f"{tag} is affected by CVE-2026-26190 (the {major}.{minor} line has no fix); {remedy}"
    if patch < fixed:
        return f"{tag} is affected by CVE-2026-26190 (fixed in {major}.{minor}.{fixed}); {remedy}"
    return None


def _env_violations(container: str, env: Any, known: tuple[str, ...], command: list[str]) -> list[str]:
    problems: list[str] = []
    if env is None:
        env = {}
    if not isinstance(env, dict):
        return [f"container '{container}': env must be a mapping of names to values"]
    for key, value in env.items():
        upper = str(key).upper()
        word = next((w for w in CREDENTIAL_WORDS if w in upper), None)
        if word:
            problems.append(
                f"container '{container}' env '{key}' looks like a credential ({word}): env is plain text "
                "in the spec (DESCRIBE SERVICE shows it); use secrets: snowflakeSecret, or drop it"
            )
        elif any(s in str(value) for s in known):  # never echo the value itself
            problems.append(
                f"container '{container}' env '{key}' holds a known secret value: "
                "use secrets: snowflakeSecret instead of env"
            )
    if any(s in part for s in known for part in command):
        problems.append(f"container '{container}' passes a known secret value on its command line")
    return problems


def _image_violations(container: str, image: Any) -> list[str]:
    if not isinstance(image, str) or not image:
        return [f"container '{container}' has no image"]
    name, tag, digest = split_image(image)
    if digest:
        return []  # a digest pins the content exactly
    if tag is None:
        return [f"container '{container}' image '{image}' has no tag (means 'latest'); pin a release tag"]
    if tag.lower() == "latest":
        return [f"container '{container}' image '{image}' uses the moving tag 'latest'; pin a release tag"]
    if name == "milvus":
        problem = milvus_tag_problem(tag) or milvus_major_problem(tag)
        if problem:
            return [f"container '{container}' image '{image}': Milvus {problem}"]
    return []


def milvus_major_problem(tag: str) -> str | None:
    """Milvus 3.x runs as uid 999, and an SPCS block volume has no uid/gid option: a volume written by
    2.x (root) may be unwritable after an upgrade. Refused until the upgrade suite covers it."""
    parsed = milvus_version(tag)
    if parsed is None or parsed[0][0] < 3:
        return None
    return (
        f"{tag} is a 3.x release: it runs as uid 999 and a block volume has no uid/gid option; "
        "refused until the upgrade suite (suites/spcs/test_upgrade.py) covers the volume's ownership"
    )


def _block_volume_violation(container: Mapping[str, Any], volumes: Mapping[Any, Any]) -> str | None:
    """Milvus keeps etcd, objects and its WAL under its data path: without a block volume, a restart
    loses them."""
    image = container.get("image")
    if not isinstance(image, str) or split_image(image)[0] != "milvus":
        return None
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) if isinstance(mount, dict) else None
        if isinstance(volume, dict) and volume.get("source") == "block":
            return None
    return (
        f"container '{container.get('name', '?')}' runs Milvus without a block volume: its data is lost "
        "when the container restarts; mount a volume with source: block at /var/lib/milvus"
    )


def _snapshot_on_delete_problem(volume: str, block_config: Any) -> str | None:
    """Since the 2026_01 bundle (BCR-2206), deleting a block volume (DROP SERVICE ... FORCE, ALTER COMPUTE
    POOL ... STOP ALL: every teardown) first snapshots it and bills the snapshot for 7 days, unless
    blockConfig.snapshotOnDelete is false. Its default is true, so the spec must say which it wants."""
    value = block_config.get("snapshotOnDelete") if isinstance(block_config, dict) else None
    if isinstance(value, bool):
        return None
    return (
        f"block volume '{volume}' must set blockConfig.snapshotOnDelete explicitly: by default (true) "
        "every teardown leaves a SYS_BACKUP_ON_DELETE snapshot, kept and billed for 7 days (BCR-2206); "
        "false opts out"
    )


_INSTANCE_COUNT = re.compile(r"\b(MIN_INSTANCES|MAX_INSTANCES)\s*=\s*(\d+)", re.IGNORECASE)


def single_instance_problems(create_service_sql: str, service: str) -> list[str]:
    """A service that must run one instance (Milvus standalone), as its CREATE SERVICE statement asks:
    SPCS gives each instance its own block volume, so a second Milvus would keep its own data and
    answer searches from it, behind the same DNS name and ingress."""
    problems = []
    for word, count in _INSTANCE_COUNT.findall(create_service_sql):
        if int(count) > 1:
            problems.append(
                f"{service} asks for {word.upper()} = {count}: Milvus standalone must run one instance "
                "(each SPCS instance gets its own block volume, so a second one would hold its own data "
                "and the service name would answer from either); scale Milvus with a cluster deployment, "
                "not with instances"
            )
    return problems


def check_spec_policy(spec: Mapping[str, Any], known_secrets: Iterable[str] = ()) -> list[str]:
    """Every policy violation of a parsed spec (see :func:`parse_spec`); an empty list means it passes.

    ``known_secrets`` are values that must appear nowhere in the spec (e.g. the run's generated password).
    """
    known = tuple(s for s in known_secrets if s)
    body = spec.get("spec") or {}
    problems: list[str] = []

    for endpoint in body.get("endpoints") or []:
        if not isinstance(endpoint, dict) or not _is_public(endpoint):
            continue
        ports = _endpoint_ports(endpoint)
        for port, why in SENSITIVE_PORTS.items():
            if port in ports:
                problems.append(f"endpoint '{endpoint.get('name', '?')}' makes port {port} public: {why}")

    volumes = {v.get("name"): v for v in body.get("volumes") or [] if isinstance(v, dict)}
    for name, volume in volumes.items():
        source = volume.get("source")
        if isinstance(source, str) and source.startswith("@"):
            problems.append(
                f"volume '{name}' uses Stage Mount V1 (source: \"{source}\"), rejected since the 2026_08 "
                'bundle (bcr-2449); use source: stage with stageConfig: {name: "@db.schema.stage/path"}'
            )
        if source == "block":
            problem = _snapshot_on_delete_problem(str(name), volume.get("blockConfig"))
            if problem:
                problems.append(problem)

    for container in _containers(spec):
        name = str(container.get("name", "?"))
        command = [str(p) for key in ("command", "args") for p in container.get(key) or []]
        problems += _env_violations(name, container.get("env"), known, command)
        problems += _image_violations(name, container.get("image"))
        volume_problem = _block_volume_violation(container, volumes)
        if volume_problem:
            problems.append(volume_problem)
    return problems
