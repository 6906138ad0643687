"""Service specifications: parse (YAML or the JSON `snow` sends) and validate as CREATE SERVICE does."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from spcs_emulator import errors

NAME = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")  # containers, endpoints, volumes
PROTOCOLS = {"TCP", "HTTP", "HTTPS"}
VOLUME_SOURCES = {"local", "stage", "memory", "block"}
SECRET_KEYS = {"username", "password", "secret_string"}
ALL_ENDPOINTS_USAGE = "ALL_ENDPOINTS_USAGE"


@dataclass(frozen=True)
class SecretMount:
    object_name: str
    env_var: str | None
    key: str | None
    directory: str | None  # normalised: absolute, no '.' or '..' segments, no trailing '/'

    def fqn(self, service_fqn: tuple[str, ...]) -> tuple[str, ...]:
        """The SECRET object's name, qualified by the service's database and schema."""
        parts = tuple(p.upper() for p in self.object_name.split("."))
        return (*service_fqn[: 3 - len(parts)], *parts)


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    command: tuple[str, ...] | None
    args: tuple[str, ...] | None
    env: dict[str, str]
    readiness: tuple[int, str] | None
    mounts: dict[str, str]  # volume name -> mountPath
    secrets: tuple[SecretMount, ...]
    # resources.limits: CPU in cores, memory in bytes (the docker runtime applies them); None: unlimited
    cpu_limit: float | None = None
    memory_limit: int | None = None


@dataclass(frozen=True)
class Endpoint:
    name: str
    port: int
    public: bool
    protocol: str


@dataclass(frozen=True)
class Volume:
    name: str
    source: str
    size: str | None
    stage: str | None
    # blockConfig (block volumes): SPCS snapshots the volume before deleting it unless this is false
    # (BCR-2206, 2026_01; "defaults to true for services and false for jobs"), and drops that snapshot
    # after snapshotDeleteAfter ("(<hours>h)|(<days>d)", default 7 days).
    snapshot_on_delete: bool = True
    snapshot_delete_after: str = "7d"


@dataclass(frozen=True)
class ServiceSpec:
    containers: tuple[Container, ...]
    endpoints: tuple[Endpoint, ...]
    volumes: tuple[Volume, ...]
    service_roles: dict[str, tuple[str, ...]]  # role -> endpoint names
    text: str
    digest: str = field(default="")

    @property
    def has_block_volume(self) -> bool:
        return any(v.source == "block" for v in self.volumes)

    @property
    def public_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints if e.public)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise errors.invalid_spec(
            f"{what} name {value!r} must be lowercase alphanumerics and '-', start with a letter, <= 63 chars"
        )
    return value


def _strings(value: Any, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise errors.invalid_spec(f"{what} must be a list of strings")
    return tuple(str(v) for v in value)


def _container_path(value: Any, what: str) -> str:
    """An absolute path inside the container, normalised; ``..`` is refused (the emulator builds host
    paths from it, and SPCS wants an absolute path)."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise errors.invalid_spec(f"{what} {value!r} must be an absolute path")
    if "\x00" in value:
        raise errors.invalid_spec(f"{what} must not contain NUL bytes")
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise errors.invalid_spec(f"{what} {value!r} must not contain '..' segments")
    return "/" + "/".join(parts)


def _secret(raw: Any, container: str) -> SecretMount:
    if not isinstance(raw, dict) or "snowflakeSecret" not in raw:
        raise errors.invalid_spec(f"container {container}: each secret needs snowflakeSecret")
    ref = raw["snowflakeSecret"]
    object_name = ref.get("objectName") if isinstance(ref, dict) else ref
    if not isinstance(object_name, str) or not object_name:
        raise errors.invalid_spec(f"container {container}: snowflakeSecret needs objectName")
    env_var, key, directory = raw.get("envVarName"), raw.get("secretKeyRef"), raw.get("directoryPath")
    if (env_var is None) == (directory is None):
        raise errors.invalid_spec(
            f"container {container}: a secret needs exactly one of envVarName and directoryPath"
        )
    if env_var is not None and key not in SECRET_KEYS:
        raise errors.invalid_spec(f"container {container}: secretKeyRef must be one of {sorted(SECRET_KEYS)}")
    if directory is not None:
        directory = _container_path(directory, f"container {container}: secret directoryPath")
    return SecretMount(object_name, env_var, key, directory)


MEMORY_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def _quantity(value: Any, what: str, *, cpu: bool) -> float:
    """A Kubernetes quantity, as specs write them: CPU ``"500m"``, ``1``, ``0.5``; memory ``"6Gi"``,
    ``"512Mi"``, ``"1G"``, bytes."""
    text = str(value).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|[kMGT]i?|)", text)
    if match is None or (cpu and match[2] not in ("", "m")) or (not cpu and match[2] == "m"):
        raise errors.invalid_spec(f"{what} {value!r} is not a {'CPU' if cpu else 'memory'} quantity")
    number = float(match[1])
    if cpu:
        return number / 1000 if match[2] == "m" else number
    return number * MEMORY_UNITS[match[2]]


def _limits(raw: Any, container: str) -> tuple[float | None, int | None]:
    resources = raw.get("resources")
    if resources is None:
        return None, None
    if not isinstance(resources, dict):
        raise errors.invalid_spec(f"container {container}: resources must be a mapping")
    for part in ("requests", "limits"):
        section = resources.get(part) or {}
        if not isinstance(section, dict):
            raise errors.invalid_spec(f"container {container}: resources.{part} must be a mapping")
        for key in ("cpu", "memory"):
            if key in section:
                _quantity(section[key], f"container {container}: resources.{part}.{key}", cpu=key == "cpu")
    limits = resources.get("limits") or {}
    cpu = _quantity(limits["cpu"], "cpu", cpu=True) if "cpu" in limits else None
    memory = int(_quantity(limits["memory"], "memory", cpu=False)) if "memory" in limits else None
    return cpu, memory


def _container(raw: Any, volume_names: set[str]) -> Container:
    if not isinstance(raw, dict):
        raise errors.invalid_spec("each container must be a mapping")
    name = _name(raw.get("name"), "container")
    image = raw.get("image")
    if not isinstance(image, str) or not image:
        raise errors.invalid_spec(f"container {name} needs an image")
    env = raw.get("env") or {}
    if not isinstance(env, dict):
        raise errors.invalid_spec(f"container {name}: env must be a mapping of names to values")
    probe = raw.get("readinessProbe")
    readiness = None
    if probe is not None:
        if not isinstance(probe, dict) or not isinstance(probe.get("port"), int):
            raise errors.invalid_spec(f"container {name}: readinessProbe needs a port and a path")
        readiness = (int(probe["port"]), str(probe.get("path", "/")))
    cpu_limit, memory_limit = _limits(raw, name)
    mounts: dict[str, str] = {}
    for mount in raw.get("volumeMounts") or []:
        if not isinstance(mount, dict):
            raise errors.invalid_spec(f"container {name}: each volume mount must be a mapping")
        if mount.get("name") not in volume_names:
            raise errors.invalid_spec(f"container {name}: volume mount {mount.get('name')!r} names no volume")
        mounts[mount["name"]] = _container_path(mount.get("mountPath"), f"container {name}: volume mountPath")
    return Container(
        name=name,
        image=image,
        command=_strings(raw.get("command"), f"container {name} command"),
        args=_strings(raw.get("args"), f"container {name} args"),
        env={str(k): "" if v is None else str(v) for k, v in env.items()},
        readiness=readiness,
        mounts=mounts,
        secrets=tuple(_secret(s, name) for s in raw.get("secrets") or []),
        cpu_limit=cpu_limit,
        memory_limit=memory_limit,
    )


def _endpoint(raw: Any) -> Endpoint:
    if not isinstance(raw, dict):
        raise errors.invalid_spec("each endpoint must be a mapping")
    name = _name(raw.get("name"), "endpoint")
    if "portRange" in raw:
        raise errors.not_emulated("endpoints with portRange")
    port = raw.get("port")
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise errors.invalid_spec(f"endpoint {name} needs a port between 1 and 65535")
    protocol = str(raw.get("protocol", "HTTP")).upper()
    if protocol not in PROTOCOLS:
        raise errors.invalid_spec(f"endpoint {name}: protocol must be one of TCP, HTTP, HTTPS")
    public = raw.get("public", False)
    if not isinstance(public, bool):
        raise errors.invalid_spec(f"endpoint {name}: public must be true or false")
    if public and protocol == "TCP":
        raise errors.invalid_spec(f"endpoint {name}: public endpoints must use HTTP or HTTPS")
    return Endpoint(name, port, public, protocol)


def _volume(raw: Any) -> Volume:
    if not isinstance(raw, dict):
        raise errors.invalid_spec("each volume must be a mapping")
    name = _name(raw.get("name"), "volume")
    source = raw.get("source")
    if isinstance(source, str) and source.startswith("@"):
        raise errors.stage_mount_v1()
    if source not in VOLUME_SOURCES:
        raise errors.invalid_spec(f"volume {name}: source must be one of {sorted(VOLUME_SOURCES)}")
    stage = None
    if source == "stage":
        stage = (raw.get("stageConfig") or {}).get("name")
        if not isinstance(stage, str) or not stage.startswith("@"):
            raise errors.invalid_spec(
                f"volume {name}: source stage needs stageConfig.name = '@db.schema.stage/path'"
            )
    size = raw.get("size")
    if source in ("block", "memory") and size is None:
        raise errors.invalid_spec(f"volume {name}: source {source} needs a size")
    on_delete, delete_after = _block_config(name, raw.get("blockConfig"))
    return Volume(name, source, None if size is None else str(size), stage, on_delete, delete_after)


def _block_config(volume: str, raw: Any) -> tuple[bool, str]:
    """(snapshotOnDelete, snapshotDeleteAfter) of a volume's blockConfig, with SPCS's defaults."""
    if raw is None:
        return True, "7d"
    if not isinstance(raw, dict):
        raise errors.invalid_spec(f"volume {volume}: blockConfig must be a mapping")
    on_delete = raw.get("snapshotOnDelete", True)
    if not isinstance(on_delete, bool):
        raise errors.invalid_spec(f"volume {volume}: blockConfig.snapshotOnDelete must be true or false")
    delete_after = raw.get("snapshotDeleteAfter", "7d")
    if not isinstance(delete_after, str) or not re.fullmatch(r"[1-9][0-9]{0,4}[hd]", delete_after):
        raise errors.invalid_spec(
            f"volume {volume}: blockConfig.snapshotDeleteAfter must look like <hours>h or <days>d"
        )
    return on_delete, delete_after


MAX_SPEC_NODES = 20_000  # a real spec has a few hundred; aliases must not multiply it (a "billion laughs")


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes ``node`` becomes once every alias is expanded, counted without expanding anything
    (each node once, its size reused wherever an alias points to it; a cycle counts as too many)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_SPEC_NODES + 1  # until it is known: a node inside itself is a cycle
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    else:
        size = 1
    sizes[id(node)] = size
    return size


def load_bounded(text: str) -> Any:
    """``yaml.safe_load``, refusing a document whose aliases would expand it past MAX_SPEC_NODES (a
    499-byte spec expanded to 77 MB under the account lock) before anything is built."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_SPEC_NODES:
            raise errors.invalid_spec(f"the specification expands to more than {MAX_SPEC_NODES} YAML nodes")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def parse_spec(text: str) -> ServiceSpec:
    try:
        document = load_bounded(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise errors.invalid_spec(f"not valid YAML or JSON ({exc.__class__.__name__})") from None
    if not isinstance(document, dict) or not isinstance(document.get("spec"), dict):
        raise errors.invalid_spec("the top level needs a 'spec' mapping")
    spec = document["spec"]
    unknown = set(document) - {"spec", "serviceRoles", "capabilities", "platformMonitor"}
    if unknown:
        raise errors.invalid_spec(f"unknown top-level field(s): {', '.join(sorted(unknown))}")
    volumes = tuple(_volume(v) for v in spec.get("volumes") or [])
    containers = tuple(_container(c, {v.name for v in volumes}) for c in spec.get("containers") or [])
    if not containers:
        raise errors.invalid_spec("spec.containers needs at least one container")
    endpoints = tuple(_endpoint(e) for e in spec.get("endpoints") or [])
    for what, names in (
        ("container", [c.name for c in containers]),
        ("endpoint", [e.name for e in endpoints]),
        ("volume", [v.name for v in volumes]),
    ):
        if len(set(names)) != len(names):
            raise errors.invalid_spec(f"duplicate {what} names")
    roles: dict[str, tuple[str, ...]] = {ALL_ENDPOINTS_USAGE: tuple(e.name for e in endpoints)}
    for role in document.get("serviceRoles") or []:
        role_name = str(role.get("name", "")).upper()
        covered = tuple(str(n) for n in role.get("endpoints") or [])
        missing = [n for n in covered if n not in {e.name for e in endpoints}]
        if not role_name or missing:
            raise errors.invalid_spec(f"service role {role_name or '?'} names unknown endpoints {missing}")
        roles[role_name] = covered
    digest = hashlib.sha256(text.encode()).hexdigest()
    return ServiceSpec(containers, endpoints, volumes, roles, text, digest)
