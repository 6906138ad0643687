"""The contract between the SPCS control plane and the local runtime that really runs containers.

The control plane decides *what* runs (from specs, images, secrets, volumes) and *when* (lifecycle);
the runtime starts local processes for containers, probes their readiness, keeps their logs, resolves
service DNS names for them, and serves public endpoints through an authenticating ingress proxy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

ContainerStatus = Literal["PENDING", "READY", "FAILED", "DONE"]
# A finished job container's message (snowflake-cli's integration test of SYSTEM$GET_JOB_STATUS).
JOB_DONE_MESSAGE = "Completed successfully"
# The ingress adds this header, with the service's ingress secret, to every request it forwards; servers
# the emulator configures (Jupyter) refuse requests without it, so nothing reaches them around the ingress.
INGRESS_SECRET_HEADER = "X-Spcs-Ingress-Secret"


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    port: int
    protocol: str  # TCP | HTTP | HTTPS
    public: bool


@dataclass(frozen=True)
class ContainerLaunch:
    """Everything needed to run one container of one service instance as local processes."""

    service: str  # "DB.SCHEMA.SVC"
    instance_id: int
    container: str  # the spec's container name
    runtime: str | None  # the process runtime's stand-in: "milvus" | "milvus-lite" | "jupyter"
    image: str
    env: dict[str, str]  # spec env plus secrets mounted with envVarName (values never logged)
    secret_files: dict[str, dict[str, str]]  # directoryPath -> {file name: content}
    command: tuple[str, ...] | None
    args: tuple[str, ...] | None
    endpoints: tuple[EndpointSpec, ...]
    volumes: dict[str, Path]  # mountPath -> host directory (block volumes survive suspend/resume)
    readiness: tuple[int, str] | None  # (port, path) of an HTTP GET readiness probe
    ip: str  # the loopback address this service instance owns, e.g. 127.0.0.7
    # DNS name -> the addresses it answers with, for every service of the account (service-to-service
    # DNS): a service's READY instances.
    hosts: Mapping[str, str | tuple[str, ...]]
    log_dir: Path  # the runtime writes current and previous container logs here
    files: Path | None = None  # the published image's files: the container's working directory
    ingress_secret: str | None = None  # what the ingress sends in INGRESS_SECRET_HEADER (never logged)
    # The DNS domain of the service's own schema (``a1b2.svc.spcs.internal``): the names in it also
    # resolve by their short name (``milvus``), as a search domain makes them on SPCS.
    search_domain: str = ""
    # Where the docker runtime pulls the image: <registry host>/<db>/<schema>/<repo>/<name>@<digest>;
    # None for an image published by name (no layers: only the process runtime can stand in for it).
    pull_reference: str | None = None
    cpu_limit: float | None = None  # the spec's resources.limits (the docker runtime applies them)
    memory_limit: int | None = None
    # The service object's id ("s42", never reused): the runtime names the container's folders and engine
    # containers by it, never by ``service`` (two names can fold into one file or container name).
    service_id: str = ""
    # A job service's container (EXECUTE JOB SERVICE) runs once: when it ends it is DONE (exit code 0,
    # message JOB_DONE_MESSAGE) or FAILED (any other code), never restarted, and its logs stay.
    job: bool = False
    # The service's own DNS name (``milvus.a1b2.svc.spcs.internal``): the docker runtime gives it to the
    # container as a network alias, so the engine's DNS answers it with every instance's container.
    dns_name: str = ""


class ContainerHandle(Protocol):
    def status(self) -> tuple[ContainerStatus, str]:
        """(status, message) e.g. ("READY", "Running"), ("PENDING", "Readiness probe is failing")."""
        ...

    @property
    def restart_count(self) -> int: ...

    @property
    def last_exit_code(self) -> int | None: ...

    @property
    def start_time(self) -> float | None: ...

    def logs(self, *, previous: bool = False, lines: int | None = None, timestamps: bool = False) -> str: ...

    def crash(self) -> None:
        """Fault injection: kill the process; the runtime restarts it (restart_count + 1)."""
        ...

    def stop(self) -> None:
        """Stop the processes and wait for them to exit (idempotent)."""
        ...


class Runtime(Protocol):
    def launch(self, launch: ContainerLaunch) -> ContainerHandle: ...

    def update_hosts(self, hosts: Mapping[str, str | tuple[str, ...]]) -> None:
        """The DNS names and their addresses changed: containers already running must resolve the new
        ones (a runtime whose engine answers DNS by itself does nothing)."""
        ...

    def forget_service(self, service_id: str) -> None:
        """The service was dropped and its containers have stopped: let go of them and remove what the
        runtime keeps of them on the host."""
        ...

    def shutdown(self) -> None:
        """Stop every process this runtime started."""
        ...


# Ingress: token -> the decision for one endpoint. Returns (allowed, user name or None, reason).
Authorizer = Callable[[str | None], tuple[bool, str | None, str]]


@dataclass
class IngressRoute:
    service: str
    endpoint: str
    target_host: str
    target_port: int
    authorize: Authorizer
    meta: dict[str, str] = field(default_factory=dict)
    upstream_secret: str | None = None  # sent in INGRESS_SECRET_HEADER: the target's ingress_secret
    # The addresses of the service's READY instances now (requests are spread over them in turn; none:
    # 503); None: ``target_host`` alone.
    targets: Callable[[], tuple[str, ...]] | None = None


class Ingress(Protocol):
    def open(self, route: IngressRoute) -> str:
        """Start proxying ``route``; return the ingress host as SHOW ENDPOINTS shows it (host:port)."""
        ...

    def close(self, service: str) -> None: ...

    def shutdown(self) -> None: ...
