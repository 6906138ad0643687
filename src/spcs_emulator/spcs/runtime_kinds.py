"""What each published image runs locally: the command line, working directory and environment of a run.

An image in the emulated registry names a *runtime* instead of layers (see ``images.py``):

- ``milvus``: the real Milvus 2.3 standalone binary shipped in the ``milvus`` PyPI package. Its gRPC
  port is the container's gRPC endpoint (19530); the metrics/health port (``/healthz``) is the readiness
  probe's port, else another endpoint's, else 9091. Data, configs and etcd live in the block volume
  (``/var/lib/milvus`` or the only volume), so a stop and a relaunch on the same volume keep
  collections. Milvus 2.3.5 has no setting for the address its gRPC and HTTP servers listen on (they
  call ``net.Listen("tcp", ":<port>")``: every address, IPv4 and IPv6), so it runs in a network
  namespace of its own (``isolate_network``, see ``netns``) with its default configuration (etcd and
  every component on 127.0.0.1 inside): only the spec's endpoints and the readiness probe's port are
  reachable, on the container's own address, through the watchdog's forwarder; etcd, the coordinators
  and everything else are not reachable from the host at all, and two Milvus containers with the same
  ports run side by side, as on SPCS. Where the host permits no namespace (neither as root nor
  through a user namespace), it falls back (said once in the container's log): the embedded etcd
  listens on the container's IP only and every component advertises that IP, but the gRPC, metrics
  and coordinator ports stay on ``[::]`` and a second Milvus with the same ports fails at once.
  Its environment adds ``STOP_PROMPTLY``: a stop (suspend, drop) ends within the grace and a resume
  does not wait half a minute for the stopped instance's etcd sessions to expire.
- ``milvus-lite``: ``python -m milvus_lite server`` bound to the container's IP and gRPC port, data in
  the volume. It has no HTTP port, so a readiness probe in the spec is replaced by the gRPC check.
- ``jupyter``: ``jupyter server`` on the container's IP and HTTP endpoint port, answering only requests
  that carry the ingress's secret (``jupyter_auth``), Host check on, root dir = the image's working
  directory, Jupyter's config and runtime dirs private to the container.

The spec's ``command``/``args`` are not interpreted: the runtime alone decides how the image runs.
Port choice and config files are redone on every (re)start, because free ports can change meanwhile.
Each plan says which address its run listens on in the host's namespace (``RunPlan.bind_ip``): the
container's own, except for Milvus without a namespace (see above). Jupyter's kernels talk to the
server over Unix sockets (``_private_kernel_channels``).
"""

from __future__ import annotations

import fcntl
import json
import lzma
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import yaml

from spcs_emulator.spcs.processes import network_isolation_problem
from spcs_emulator.spcs.runtime_api import ContainerLaunch, EndpointSpec

MILVUS_GRPC_PORT = 19530
MILVUS_METRICS_PORT = 9091
JUPYTER_PORT = 8888
DATA_MOUNT = "/var/lib/milvus"
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
MILVUS_BIND_IP = "::"  # Milvus 2.3.5's servers listen on every address; nothing configures it
NO_NAMESPACE_NOTICE = (
    "Network isolation unavailable, Milvus listens on every address of this host (its ports 19530, "
    "9091 and the coordinators' are reachable from other hosts; a second Milvus with these ports fails)"
)
# Stop and restart without dead time (the data is on the volume either way). On SIGTERM a standalone
# query node waits queryNode.gracefulStopTimeout (30 s) for its segments to move to another node (there
# is none), so the stop grace ran out and Milvus was SIGKILLed; with 1 s a stop took 1.06 s, with 0 it
# takes 0.05 s and goes through the same shutdown (data flushed, the test relaunches and counts it).
# And a stopped Milvus leaves its etcd
# sessions behind (2.3.5 does not revoke them): the relaunched etcd restores their leases for a full
# common.session.ttl (30 s), and until they expire the new instance's components retry against the
# dead ones and its first query waits (5-8 s after readiness with 10 s, about 1 s with 5 s; see
# tests/emulator/test_milvus_stop.py). 5 s still leaves a keep-alive every ~1.7 s, and a lease
# expires only after three in a row are missed: seconds without CPU, which a loaded 2-core host
# running two stacks did not come near.
STOP_PROMPTLY = {"QUERYNODE_GRACEFULSTOPTIMEOUT": "0", "COMMON_SESSION_TTL": "5"}
# Milvus 2.3.5 ends a stop at once, or, stopped soon after a relaunch (its components still retrying
# against the stopped instance's sessions), only after ~9.5 s of retries that do no work; its data is safe
# either way (the WAL and the segments are on the volume; Milvus recovers from a kill). So 2 s, not the
# runtime's 10 s: a teardown or SUSPEND after a RESUME stalled 9 s (tests/emulator/test_milvus_stop.py).
MILVUS_STOP_GRACE = 2.0
MILVUS_COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")


@dataclass(frozen=True)
class ContainerDirs:
    """Host directories private to one container of one service instance."""

    root: Path  # everything below is this container's
    cwd: Path  # the image's working directory (a copy of its files)
    data: Path  # where data goes when the spec mounts no volume (lost on relaunch, as on SPCS)
    sockets: Path | None = None  # a private directory with a short path, for Unix sockets (108 bytes max)

    @property
    def fs(self) -> Path:
        """Stand-in for the container's file system root (secrets are written below it)."""
        return self.root / "fs"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"


@dataclass(frozen=True)
class RunPlan:
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None  # the port that must accept connections before the container is ready
    milvus_uri: str | None = None  # readiness also needs MilvusClient(uri).list_collections()
    http_probe: tuple[int, str] | None = None  # (port, path) answering 2xx when ready
    bind_ip: str | None = None  # the address the run listens on ("::" = every address); None: unknown
    # When given, a private network namespace: <bind_ip>:<port> of the host's reaches 127.0.0.1:<port>
    # inside for each of these ports (watchdog + netns); nothing else of the run is reachable from the host.
    forwarded_ports: tuple[int, ...] = ()
    notices: tuple[str, ...] = ()  # written to the container's log when the run starts
    stop_grace: float | None = None  # seconds from SIGTERM to SIGKILL, when shorter than the runtime's

    @property
    def isolate_network(self) -> bool:
        """Whether the run gets a network namespace of its own (it has ports forwarded into one)."""
        return bool(self.forwarded_ports)

    @property
    def ports(self) -> set[int]:
        """The ports readiness looks at: each must be listened on by the container's own processes."""
        probe = self.http_probe[0] if self.http_probe is not None else None
        return {p for p in (self.port, probe) if p is not None}


Planner = Callable[[ContainerLaunch, ContainerDirs, Path], RunPlan]


def grpc_endpoint(endpoints: tuple[EndpointSpec, ...]) -> int:
    """Milvus's gRPC port: a TCP endpoint, else one on 19530, else the first endpoint, else 19530."""
    for endpoint in endpoints:
        if endpoint.protocol.upper() == "TCP":
            return endpoint.port
    for endpoint in endpoints:
        if endpoint.port == MILVUS_GRPC_PORT:
            return endpoint.port
    return endpoints[0].port if endpoints else MILVUS_GRPC_PORT


def http_endpoint(endpoints: tuple[EndpointSpec, ...], default: int) -> int:
    for endpoint in endpoints:
        if endpoint.protocol.upper() in ("HTTP", "HTTPS"):
            return endpoint.port
    return endpoints[0].port if endpoints else default


def data_dir(launch: ContainerLaunch, dirs: ContainerDirs) -> Path:
    """The volume mounted at /var/lib/milvus, else the only (first) volume, else container-private data."""
    path = launch.volumes.get(DATA_MOUNT) or next(iter(launch.volumes.values()), None) or dirs.data
    path.mkdir(parents=True, exist_ok=True)
    return path


def port_is_free(port: int, host: str = "0.0.0.0") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is free
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int, host: str = "0.0.0.0") -> int:
    if port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _python_env() -> dict[str, str]:
    return {"PYTHONUNBUFFERED": "1"}  # log lines must arrive when printed, not at exit


def plan_milvus_lite(launch: ContainerLaunch, dirs: ContainerDirs, _cache: Path) -> RunPlan:
    port = grpc_endpoint(launch.endpoints)
    argv = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir(launch, dirs))]
    argv += ["--host", launch.ip, "--port", str(port)]
    uri = f"http://{launch.ip}:{port}"
    return RunPlan(argv, dirs.cwd, _python_env(), port=port, milvus_uri=uri, bind_ip=launch.ip)


def _private_kernel_channels(config_dir: Path, sockets: Path) -> None:
    """Kernels talk to the server over Unix sockets in a private directory, not TCP on 127.0.0.1.

    jupyter_client's default opens five TCP ports on 127.0.0.1 per kernel, reachable by any local
    process; it refuses to bind a kernel to an address that no interface lists (127.x.y.z is only
    covered by lo's 127.0.0.0/8), so the container's own address is not an option, but ``ipc`` is.
    The socket paths are ``<sockets>/k-<n>``: ``sockets`` must be short (Unix socket paths are limited).
    One TCP listener per kernel remains: ipykernel's IOPub pipe for forked subprocesses, hard-coded to
    ``tcp://127.0.0.1:<random>`` (kernelapp creates it unconditionally; a random 16-byte key in every
    message authenticates the sender, so another local process can connect but not be heard).
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    sockets.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = {"KernelManager": {"transport": "ipc", "ip": str(sockets / "k")}}
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(config), encoding="utf-8")


def plan_jupyter(launch: ContainerLaunch, dirs: ContainerDirs, _cache: Path) -> RunPlan:
    """Jupyter Server answering only the ingress (see ``jupyter_auth``): the service's ingress secret
    reaches it through 0600 files, never argv or environment; its Host check stays on."""
    from spcs_emulator.spcs.jupyter_auth import write_ingress_only_config

    port = http_endpoint(launch.endpoints, JUPYTER_PORT)
    jupyter = dirs.root / "jupyter"
    write_ingress_only_config(jupyter / "config", jupyter / "ingress-secret", launch.ingress_secret)
    argv = [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--ServerApp.ip={launch.ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--no-browser",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={dirs.cwd}",
    ]
    _private_kernel_channels(jupyter / "config", dirs.sockets or jupyter / "runtime")
    env = {
        **_python_env(),
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
        "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
        "IPYTHONDIR": str(jupyter / "ipython"),
        # as the Jupyter image's ENV (images/jupyter/Dockerfile): the packaged model, never the hub
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    return RunPlan(argv, dirs.cwd, env, port=port, http_probe=launch.readiness, bind_ip=launch.ip)


def milvus_binaries(cache: Path) -> Path:
    """The Milvus binary and its libraries, unpacked once per package version into ``cache`` (~4 s).

    Shared by every container and runtime; a lock file serialises concurrent unpacking and a stamp
    file records what was unpacked, so an interrupted unpack is redone.
    """
    import milvus

    source = Path(milvus.__file__).parent / "data" / "bin"
    bin_dir = cache / f"milvus-{version('milvus')}" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    archives = sorted(source.glob("*.lzma"))
    stamp_text = "\n".join(f"{a.name} {a.stat().st_size} {a.stat().st_mtime_ns}" for a in archives)
    stamp = bin_dir / ".unpacked"
    with (bin_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != stamp_text:
            for archive in archives:
                target = bin_dir / archive.name.removesuffix(".lzma")
                tmp = target.with_name(target.name + ".tmp")
                with lzma.open(archive) as src, tmp.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                tmp.chmod(0o755)
                tmp.replace(target)
            stamp.write_text(stamp_text)
    return bin_dir / "milvus"


def bind_milvus_to(ip: str, configs: Path) -> None:
    """Keep what Milvus 2.3.5 lets us keep on the container's own address (see the module doc).

    The embedded etcd gets a config file listening on ``ip`` only (its default is 127.0.0.1:2379/2380,
    shared by every Milvus on the host), and each component advertises ``ip`` instead of the host's
    first network address, so Milvus's own traffic stays on the container's loopback address.
    """
    milvus_yaml = configs / "milvus.yaml"
    config = yaml.safe_load(milvus_yaml.read_text(encoding="utf-8"))
    client = free_port(ETCD_CLIENT_PORT, ip)
    peer = free_port(ETCD_PEER_PORT, ip)
    while peer == client:  # both fell back to ephemeral ports and the kernel gave the same one twice
        peer = free_port(peer + 1, ip)
    etcd_yaml = configs / "embed-etcd.yaml"
    etcd = {
        "listen-client-urls": f"http://{ip}:{client}",
        "advertise-client-urls": f"http://{ip}:{client}",
        "listen-peer-urls": f"http://{ip}:{peer}",
        "initial-advertise-peer-urls": f"http://{ip}:{peer}",
        "initial-cluster": f"default=http://{ip}:{peer}",
    }
    etcd_yaml.write_text(yaml.safe_dump(etcd), encoding="utf-8")
    config["etcd"]["endpoints"] = f"{ip}:{client}"
    config["etcd"]["config"] = {"path": str(etcd_yaml)}
    for component in MILVUS_COMPONENTS:
        config[component]["ip"] = ip
    milvus_yaml.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def paths_in_volumes(launch: ContainerLaunch) -> dict[str, str]:
    """The spec's env values that name a path in a mounted volume, as that path on this host.

    A process here sees no ``/var/lib/milvus``: the Milvus image's ``ETCD_DATA_DIR=/var/lib/milvus/etcd``
    taken literally would put every emulated Milvus's etcd in one host directory, shared by concurrent
    runs (and outside the volume, so lost with it on SPCS but not here).

    Only plain paths are mapped, into the innermost mount that holds them: a value with ``..`` (or
    ``.``) segments would leave the volume for the emulator's own files, and is left as it is.
    """
    mounts = sorted(
        ((mount.rstrip("/"), host) for mount, host in launch.volumes.items() if mount.rstrip("/")),
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
    found: dict[str, str] = {}
    for name, value in launch.env.items():
        if any(part in (".", "..") for part in value.split("/")):
            continue
        for mount, host in mounts:
            if value == mount or value.startswith(mount + "/"):
                found[name] = str(host) + value[len(mount) :]
                break
    return found


def write_milvus_config(base: Path, grpc_port: int, metrics_port: int, *, in_namespace: bool) -> None:
    """Render the package's config template: storage under ``base``, logs to stdout only (a container's
    log). In a namespace of its own Milvus keeps the template's ports (nothing else listens there), but
    an internal one the spec's gRPC or metrics port would collide with moves; otherwise ``resolve``
    picks free ones on this host for what is not fixed."""
    from milvus import MilvusServerConfig

    config = MilvusServerConfig(data_dir=str(base), proxy_port=grpc_port)
    if in_namespace:
        config.resolve_storage()
        config.set("proxy_port", grpc_port)
        taken = {grpc_port, metrics_port}
        for key in sorted(k for k in config.configurable_items if k.endswith("_port") and k != "proxy_port"):
            port = config.get(key)
            while port in taken:
                port += 1
            config.set(key, port)
            taken.add(port)
    else:
        config.resolve()
    config.set("system_log_path", "")
    config.write_config()


def plan_milvus(launch: ContainerLaunch, dirs: ContainerDirs, cache: Path) -> RunPlan:
    problem = network_isolation_problem()
    grpc_port = grpc_endpoint(launch.endpoints)
    others = [e.port for e in launch.endpoints if e.port != grpc_port]
    if launch.readiness is not None:
        metrics_port = launch.readiness[0]
    elif others:
        metrics_port = others[0]
    else:
        metrics_port = MILVUS_METRICS_PORT if problem is None else free_port(MILVUS_METRICS_PORT)
    base = data_dir(launch, dirs)
    write_milvus_config(base, grpc_port, metrics_port, in_namespace=problem is None)
    if problem is not None:
        bind_milvus_to(launch.ip, base / "configs")
    executable = milvus_binaries(cache)
    libs = os.pathsep.join(p for p in (str(executable.parent), os.environ.get("LD_LIBRARY_PATH", "")) if p)
    env = {
        "DEPLOY_MODE": "STANDALONE",
        "METRICS_PORT": str(metrics_port),
        "MILVUS_RUN_DIR": str(base / "run"),
        "LD_LIBRARY_PATH": libs,
        **STOP_PROMPTLY,
        **paths_in_volumes(launch),
    }
    reachable = {e.port for e in launch.endpoints} | ({launch.readiness[0]} if launch.readiness else set())
    notices = () if problem is None else (f"{NO_NAMESPACE_NOTICE}: {problem}",)
    # Milvus reads configs/milvus.yaml relative to its working directory.
    return RunPlan(
        [str(executable), "run", "standalone"],
        base,
        env,
        port=grpc_port,
        milvus_uri=f"http://{launch.ip}:{grpc_port}",
        http_probe=launch.readiness,
        bind_ip=launch.ip if problem is None else MILVUS_BIND_IP,
        forwarded_ports=tuple(sorted(reachable)) if problem is None else (),
        notices=notices,
        stop_grace=MILVUS_STOP_GRACE,
    )


PLANNERS: dict[str, Planner] = {
    "milvus": plan_milvus,
    "milvus-lite": plan_milvus_lite,
    "jupyter": plan_jupyter,
}


def planner(runtime: str) -> Planner:
    try:
        return PLANNERS[runtime]
    except KeyError:
        known = ", ".join(sorted(PLANNERS))
        raise ValueError(f"Unknown container runtime {runtime!r}; the local runtime knows: {known}") from None
