"""The docker runtime: each container of a service instance runs the pushed image itself, in Docker.

``DockerRuntime.launch`` hands a container to a supervisor thread, which does what the kubelet under
SPCS does:

- pulls the image by digest from the emulator's own registry (the platform's pull credential, never
  a user's; an image published by name has no layers and fails as an unknown image would);
- creates the container on the emulator's network, an ``internal`` bridge (no route out), with the
  service's DNS names as aliases and its schema's domain as search domain (``milvus`` resolves, as on
  SPCS); env, command (entrypoint) and args as the spec says; secrets as env or read-only files;
  volumes as binds of the service's own volume directories (block volumes outlive SUSPEND/RESUME and
  go with DROP, as the control plane keeps them); nothing else of the host;
- confines it: no privileges, every capability dropped, no-new-privileges, a pid limit, labelled with
  its emulator, its engine log capped (json-file, one file and one rotated, ``LOG_MAX_BYTES`` each;
  ``logs()`` streams only a bounded tail of it); the Docker engine restarts it when it exits
  (``always``, with the engine's back-off), and ``restart_count`` is the engine's; a job's container
  (``ContainerLaunch.job``) is never restarted: once it has exited it is DONE (code 0) or FAILED;
- makes each endpoint port answer on the service's own loopback address through a relay (``relay``),
  where the process runtime's processes would listen: the ingress and the probes are unchanged;
- probes readiness: the spec's HTTP probe, else the first endpoint's port.

Every container and the network carry ``io.spcs-emulator.instance=<id>``; a reaper below the
emulator's lifeline removes them however the emulator dies (``watchdog.docker_reap``), and
``io.spcs-emulator.state=<hash of the state directory>`` lets a later emulator on the same directory
remove what even that missed (``leftovers``).
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import shutil
import signal
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spcs_emulator.spcs.container_logs import LOG_FILE_MAX_BYTES, TAIL_MAX_BYTES, last_bytes
from spcs_emulator.spcs.processes import Lifeline
from spcs_emulator.spcs.relay import Relay
from spcs_emulator.spcs.runtime_api import JOB_DONE_MESSAGE, ContainerLaunch, ContainerStatus

log = logging.getLogger(__name__)

INSTANCE_LABEL = "io.spcs-emulator.instance"
STATE_LABEL = "io.spcs-emulator.state"
SERVICE_LABEL = "io.spcs-emulator.service"
READY_MESSAGE = "Running"
PROBE_TIMEOUT = 3.0
PULL_TIMEOUT = 1800
PIDS_LIMIT = 4096
# The engine's log of each container: as the process runtime's (container_logs), one file and one rotated.
LOG_MAX_BYTES = LOG_FILE_MAX_BYTES
LOG_MAX_FILES = 2


def state_label(state_dir: Path) -> str:
    """The label value that ties containers to one state directory (for reaping a killed emulator's)."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:16]


def docker_problem() -> str | None:
    """Why the docker runtime cannot run here, or None."""
    try:
        import docker
    except ImportError:
        return "the docker Python package is not installed (pip install 'milvus-spcs[container]')"
    try:
        client = docker.from_env(timeout=10)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # DockerException, connection errors: all mean "no engine here"
        return f"no Docker engine answers ({type(exc).__name__}: {exc})"
    if shutil.which("docker") is None:
        return "the docker CLI is not on PATH (its reaper removes containers of a killed emulator)"
    return None


def _name(*parts: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", "-".join(parts)).strip("-").lower()[:120]


class DockerContainer:
    """``ContainerHandle`` of runtime_api for one container run by Docker."""

    def __init__(self, runtime: DockerRuntime, launch: ContainerLaunch) -> None:
        self.launch = launch
        self._runtime = runtime
        self._lock = threading.Lock()
        self._state: tuple[ContainerStatus, str] = ("PENDING", "Pulling image")
        self._stopped = threading.Event()
        self._container: Any = None
        self._relays: list[Relay] = []
        self._start_time: float | None = None
        self._secret_dir: Path | None = None
        self._thread = threading.Thread(
            target=self._supervise, name=f"docker-{launch.container}", daemon=True
        )
        self._thread.start()

    # -- ContainerHandle ----------------------------------------------------------------------------

    def status(self) -> tuple[ContainerStatus, str]:
        with self._lock:
            return self._state

    @property
    def restart_count(self) -> int:
        attrs = self._attrs()
        return int(attrs.get("RestartCount", 0)) if attrs else 0

    @property
    def last_exit_code(self) -> int | None:
        attrs = self._attrs()
        if not attrs or (int(attrs.get("RestartCount", 0)) == 0 and attrs["State"].get("Running")):
            return None
        return int(attrs["State"].get("ExitCode", 0))

    @property
    def start_time(self) -> float | None:
        return self._start_time

    def logs(self, *, previous: bool = False, lines: int | None = None, timestamps: bool = False) -> str:
        """The current run's output, or (``previous``) what the runs before it wrote: the engine keeps
        one log across restarts (capped: ``LOG_MAX_BYTES`` x ``LOG_MAX_FILES``), split here at the current run's start. Only a
        bounded tail of it is ever held (``engine_log_tail``)."""
        container = self._container
        attrs = self._attrs()
        if container is None or not attrs:
            return ""
        try:
            stamped = engine_log_tail(container, attrs, previous=previous, lines=lines)
        except Exception:
            return ""
        text = split_runs(stamped, attrs, previous=previous, lines=lines, timestamps=timestamps)
        return text if lines is None else last_bytes(text, TAIL_MAX_BYTES)

    def crash(self) -> None:
        """Kill the container's main process: the engine restarts it (restart_count + 1)."""
        attrs = self._attrs()
        pid = int(attrs["State"].get("Pid", 0)) if attrs else 0
        if pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        self._stopped.set()
        for relay in self._relays:
            relay.close()
        container = self._container
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        if self._secret_dir is not None:
            shutil.rmtree(self._secret_dir, ignore_errors=True)
        with self._lock:
            self._state = ("DONE", "Container stopped")

    # -- the supervisor -------------------------------------------------------------------------------

    def _set(self, state: ContainerStatus, message: str) -> None:
        with self._lock:
            if self._state[0] != "DONE":
                self._state = (state, message)

    def _attrs(self) -> dict[str, Any] | None:
        container = self._container
        if container is None:
            return None
        try:
            container.reload()
        except Exception:
            return None
        return dict(container.attrs)

    def _supervise(self) -> None:
        try:
            image = self._runtime.pull(self.launch)
            if self._stopped.is_set():
                return
            self._create(image)
        except Exception as exc:
            message = f"Failed to start container {self.launch.container}: {exc}"
            if isinstance(exc, PullError):
                message = str(exc)
            log.warning("%s: %s", self.launch.service, message)
            self._set("FAILED", message)
            return
        while not self._stopped.wait(self._runtime.probe_interval):
            attrs = self._attrs()
            if attrs is None:
                if not self._stopped.is_set():
                    self._set("FAILED", f"Container {self.launch.container} is gone")
                continue
            state = attrs["State"]
            if self.launch.job and state.get("Status") == "exited":
                code = int(state.get("ExitCode", -1))
                if code == 0:
                    self._set("DONE", JOB_DONE_MESSAGE)
                else:
                    self._set("FAILED", f"Container {self.launch.container} exited with code {code}")
                return  # a job's container ran once: that is final
            if not state.get("Running") or state.get("Restarting"):
                if state.get("OOMKilled"):  # the engine tells a kill for memory (the spec's limit)
                    self._set("FAILED", "Container was OOMKilled due to resource usage")
                    continue
                self._set(
                    "FAILED", f"Container {self.launch.container} exited with code {state.get('ExitCode')}"
                )
                continue
            started = _parse_time(state.get("StartedAt"))
            if started is not None:
                self._start_time = started.timestamp()
            ready, message = self._probe()
            self._set("READY" if ready else "PENDING", message)

    def _create(self, image: str) -> None:
        launch = self.launch
        mounts = []
        for path, host in launch.volumes.items():
            mounts.append(_bind(host, path, read_only=False))
        if launch.secret_files:
            self._secret_dir = Path(tempfile.mkdtemp(prefix="secrets-", dir=self._runtime.workdir))
            for index, (directory, files) in enumerate(sorted(launch.secret_files.items())):
                folder = self._secret_dir / str(index)
                folder.mkdir(mode=0o755)
                for name, content in files.items():
                    target = folder / Path(name).name
                    target.write_text(content)
                    target.chmod(0o444)  # the image's user may be anyone; the folder is this container's
                mounts.append(_bind(folder, directory, read_only=True))
        # Every instance's container carries the service's name: the engine's DNS answers it with all.
        own_names = [launch.dns_name] if launch.dns_name else []
        self._container = self._runtime.create(
            image=image,
            name=_name("spcs", self._runtime.instance, *_key_parts(launch)),
            launch=launch,
            mounts=mounts,
            aliases=own_names,
        )
        self._container.start()
        for endpoint in launch.endpoints:
            relay = Relay((launch.ip, endpoint.port), self._target(endpoint.port))
            try:
                relay.start()
            except OSError as exc:
                raise RuntimeError(f"port {launch.ip}:{endpoint.port} is in use: {exc}") from None
            self._relays.append(relay)
        if self._stopped.is_set():  # stopped while it was being created: stop() saw no container yet
            self.stop()

    def _address(self) -> str | None:
        attrs = self._attrs()
        if not attrs:
            return None
        network = attrs["NetworkSettings"]["Networks"].get(self._runtime.network_name) or {}
        return network.get("IPAddress") or None

    def _target(self, port: int) -> Any:
        def target() -> tuple[str, int] | None:
            address = self._address()
            return None if address is None else (address, port)

        return target

    def _probe(self) -> tuple[bool, str]:
        address = self._address()
        if address is None:
            return False, "Waiting for the container's address"
        if self.launch.readiness is not None:
            port, path = self.launch.readiness
            try:
                with urllib.request.urlopen(
                    f"http://{address}:{port}{path}", timeout=PROBE_TIMEOUT
                ) as answer:
                    ok = 200 <= answer.status < 400
            except (urllib.error.URLError, OSError, ValueError):
                ok = False
            if not ok:
                return False, "Readiness probe is failing"
            if self.launch.runtime == "milvus" and self.launch.endpoints:
                # As the process runtime: Milvus's /healthz answers before its proxy serves requests.
                from spcs_emulator.spcs.runtime import milvus_answers

                if not milvus_answers(f"http://{address}:{self.launch.endpoints[0].port}"):
                    return False, "Readiness probe is failing: Milvus does not answer list_collections yet"
            return True, READY_MESSAGE
        if self.launch.endpoints:
            import socket

            try:
                socket.create_connection(
                    (address, self.launch.endpoints[0].port), timeout=PROBE_TIMEOUT
                ).close()
            except OSError:
                return False, "Readiness probe is failing"
        return True, READY_MESSAGE


class PullError(RuntimeError):
    """The image cannot be pulled: SPCS reports 'Failed to pull image ...'."""


def _key(launch: ContainerLaunch) -> tuple[str, int, str]:
    """The container's identity: the service *object* (its id), never its name: ``_name`` folds case
    and punctuation, and a service created again under a dropped one's name is another service."""
    return launch.service_id or launch.service, launch.instance_id, launch.container


def _key_parts(launch: ContainerLaunch) -> tuple[str, str, str]:
    owner, instance, container = _key(launch)
    return owner, str(instance), container


def _bind(source: Path, target: str, *, read_only: bool) -> Any:
    from docker.types import Mount

    return Mount(target=target, source=str(source), type="bind", read_only=read_only)


def engine_log_tail(container: Any, attrs: dict[str, Any], *, previous: bool, lines: int | None) -> str:
    """The end of the engine's log (``--timestamps``) that holds the run asked for, streamed and held
    in a bounded window: the last TAIL_MAX_BYTES when ``lines`` is given, else the whole capped log.

    The engine applies ``tail`` before ``since``/``until``: ``tail`` serves the current run (its lines
    are the log's last ones), ``until`` the runs before it; whole seconds, since ``split_runs`` then
    splits at the exact start."""
    state = attrs.get("State", {})
    if previous and int(attrs.get("RestartCount", 0)) == 0:
        return ""  # no run before this one
    started = _parse_time(state.get("StartedAt"))
    options: dict[str, Any] = {}
    if not previous and lines is not None:
        options["tail"] = max(lines, 0)
    if started is not None and not state.get("Restarting"):
        second = int(started.timestamp())
        if previous:
            options["until"] = second + 1
        elif second > 1:
            options["since"] = second - 1
    budget = TAIL_MAX_BYTES if lines is not None else LOG_MAX_BYTES * LOG_MAX_FILES
    window: collections.deque[bytes] = collections.deque()
    held = 0
    # follow=False: docker-py follows a stream unless told otherwise (the call would never end).
    stream = container.logs(stdout=True, stderr=True, timestamps=True, stream=True, follow=False, **options)
    try:
        # One message a frame, each with its timestamp: the engine cuts a line at 16 KiB into partial
        # messages, which become lines of their own here (as the process runtime cuts them).
        for frame in stream:
            window.append(frame if frame.endswith(b"\n") else frame + b"\n")
            held += len(window[-1])
            while held > budget and len(window) > 1:
                held -= len(window.popleft())
    finally:
        stream.close()
    data = b"".join(window)
    return data.decode(errors="replace")


def split_runs(
    stamped: str, attrs: dict[str, Any], *, previous: bool, lines: int | None, timestamps: bool
) -> str:
    """Split the engine's one log (``docker logs --timestamps``) into the current run and the runs
    before it. While the engine waits to restart a dead container (``Restarting``), its RestartCount
    is already up but StartedAt is still the dead run's: there is no current run, all is previous."""
    state = attrs.get("State", {})
    restarted = int(attrs.get("RestartCount", 0)) > 0
    between_runs = bool(state.get("Restarting"))
    started = _parse_time(state.get("StartedAt"))
    if previous and not restarted:
        return ""
    kept = []
    for line in stamped.splitlines():
        stamp, _, text = line.partition(" ")
        at = _parse_time(stamp)
        before = restarted and (between_runs or (at is not None and started is not None and at < started))
        if before == previous:
            kept.append(line if timestamps else text)
    if lines is not None:
        kept = kept[-lines:] if lines > 0 else []
    return "\n".join(kept) + ("\n" if kept else "")


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value or value.startswith("0001-"):
        return None
    trimmed = re.sub(r"\.(\d{6})\d*", r".\1", value.replace("Z", "+00:00"))
    try:
        return dt.datetime.fromisoformat(trimmed)
    except ValueError:
        return None


class DockerRuntime:
    """``Runtime`` of runtime_api on a Docker engine.

    ``pull_credentials``: (user, password) the registry front accepts for pulls by the platform.
    ``state_dir``: the emulator's (its hash labels every container, for reaping after a kill).
    """

    def __init__(
        self,
        *,
        lifeline: Lifeline,
        state_dir: Path,
        pull_credentials: tuple[str, str] | None,
        probe_interval: float = 1.0,
    ) -> None:
        import docker

        problem = docker_problem()
        if problem:
            raise RuntimeError(f"the docker runtime needs a Docker engine: {problem}")
        self._client = docker.from_env(timeout=120)
        self.instance = secrets.token_hex(4)
        self.state = state_label(state_dir)
        self.labels = {INSTANCE_LABEL: self.instance, STATE_LABEL: self.state}
        self.probe_interval = probe_interval
        self.workdir = Path(tempfile.mkdtemp(prefix="spcs-docker-", dir=state_dir))
        self._credentials = pull_credentials
        self._lock = threading.Lock()
        self._pulls: dict[str, threading.Lock] = {}
        self._containers: list[DockerContainer] = []
        self._pulled: set[str] = set()  # references this runtime pulled: untagged at shutdown
        docker_cli = shutil.which("docker")
        assert docker_cli is not None  # docker_problem checked it
        self._docker_cli, self._lifeline = docker_cli, lifeline
        self._reaped_prefixes: set[str] = set()
        lifeline.reap_docker(docker_cli, f"{INSTANCE_LABEL}={self.instance}")
        self.network_name = f"spcs-emulator-{self.instance}"
        # internal: no route out. One per emulator: services of the account reach each other by name.
        self._network = self._client.networks.create(
            self.network_name, driver="bridge", internal=True, labels=self.labels, check_duplicate=True
        )

    def pull(self, launch: ContainerLaunch) -> str:
        reference = launch.pull_reference
        if reference is None:
            raise PullError(
                f"Failed to pull image {launch.image}: it was published by name (no layers); "
                "push it with docker push to run it with the docker runtime."
            )
        with self._lock:
            lock = self._pulls.setdefault(reference, threading.Lock())
        self._reap_pulls_from(reference.split("/", 1)[0] + "/")
        with lock:  # two instances of one image pull it once
            try:
                self._client.images.get(reference)
                return reference
            except Exception:
                pass
            repository, _, digest = reference.partition("@")
            auth = None
            if self._credentials is not None:
                auth = {"username": self._credentials[0], "password": self._credentials[1]}
            try:
                self._client.api.pull(repository, tag=digest, auth_config=auth)
            except Exception as exc:
                raise PullError(f"Failed to pull image {launch.image}: {exc}") from None
            with self._lock:
                self._pulled.add(reference)
        return reference

    def _reap_pulls_from(self, prefix: str) -> None:
        """Once per registry: untag what was pulled from it however the emulator dies (its host is
        known only once the emulator serves it)."""
        with self._lock:
            if prefix in self._reaped_prefixes:
                return
            self._reaped_prefixes.add(prefix)
        self._lifeline.reap_docker(self._docker_cli, f"{INSTANCE_LABEL}={self.instance}", prefix)

    def create(
        self, *, image: str, name: str, launch: ContainerLaunch, mounts: list[Any], aliases: list[str]
    ) -> Any:
        from docker.types import LogConfig

        with contextlib.suppress(Exception):  # a relaunch of the same container replaces it
            self._client.containers.get(name).remove(force=True)
        endpoint = self._client.api.create_endpoint_config(aliases=aliases)
        networking = self._client.api.create_networking_config({self.network_name: endpoint})
        host_config = self._client.api.create_host_config(
            mounts=mounts,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            privileged=False,
            pids_limit=PIDS_LIMIT,
            # A job's container runs once (EXECUTE JOB SERVICE); the engine keeps it, and its log, after.
            restart_policy={"Name": "no" if launch.job else "always"},
            dns_search=[launch.search_domain] if launch.search_domain else None,
            # A search domain for short names (Docker's ndots:0 makes gRPC's c-ares resolver skip it, so
            # `milvus` would not resolve for pymilvus). ndots:4, not Kubernetes' 5: a service's full name
            # (4 dots) is asked as is first; the engine never answers the unknown name the search domain
            # would make of it on an internal network, and each such try waited out the 5 s timeout.
            dns_opt=["ndots:4"],
            init=True,  # a PID 1 that reaps: servers that fork leave no zombies
            # resources.limits, as the kubelet applies them (requests are not checked: not emulated)
            nano_cpus=int(launch.cpu_limit * 1e9) if launch.cpu_limit else None,
            mem_limit=launch.memory_limit,
            # The engine's log of a container is capped and rotated, as the kubelet's is: what it
            # writes grows neither the disk nor what logs() reads.
            log_config=LogConfig(
                type=LogConfig.types.JSON,
                config={"max-size": str(LOG_MAX_BYTES), "max-file": str(LOG_MAX_FILES)},
            ),
        )
        created = self._client.api.create_container(
            image,
            name=name,
            entrypoint=list(launch.command) if launch.command else None,
            command=list(launch.args) if launch.args else None,
            environment=dict(launch.env),
            labels={**self.labels, SERVICE_LABEL: launch.service},
            host_config=host_config,
            networking_config=networking,
        )
        return self._client.containers.get(created["Id"])

    def reap_leftovers(self) -> list[str]:
        """Remove the containers and networks a killed emulator left on this state directory (call
        while holding its claim); returns the names removed."""
        removed = []
        label = f"{STATE_LABEL}={self.state}"
        for container in self._client.containers.list(all=True, filters={"label": label}):
            if container.labels.get(INSTANCE_LABEL) != self.instance:
                with contextlib.suppress(Exception):
                    container.remove(force=True)
                    removed.append(container.name)
        for network in self._client.networks.list(filters={"label": label}):
            if network.attrs.get("Labels", {}).get(INSTANCE_LABEL) != self.instance:
                with contextlib.suppress(Exception):
                    network.remove()
                    removed.append(network.name)
        if removed:
            log.warning("removed Docker leftovers of a previous emulator: %s", ", ".join(removed))
        return removed

    def launch(self, launch: ContainerLaunch) -> DockerContainer:
        key = _key(launch)
        with self._lock:
            replaced = [c for c in self._containers if _key(c.launch) == key]
            self._containers = [c for c in self._containers if _key(c.launch) != key]
        for old in replaced:  # a relaunch (RESUME, an upgrade) replaces it: its relays go first
            old.stop()
        handle = DockerContainer(self, launch)
        with self._lock:
            self._containers.append(handle)
        return handle

    def update_hosts(self, hosts: Mapping[str, str | tuple[str, ...]]) -> None:
        """Nothing to do: the engine's DNS answers each service name (a network alias per instance)."""

    def forget_service(self, service_id: str) -> None:
        """The service was dropped and its containers removed: the runtime lets go of their handles."""
        with self._lock:
            self._containers = [c for c in self._containers if c.launch.service_id != service_id]

    def shutdown(self) -> None:
        with self._lock:
            containers, self._containers = self._containers, []
        for container in containers:
            container.stop()
        for leftover in self._client.containers.list(
            all=True, filters={"label": f"{INSTANCE_LABEL}={self.instance}"}
        ):
            with contextlib.suppress(Exception):
                leftover.remove(force=True)
        with contextlib.suppress(Exception):
            self._network.remove()
        for reference in sorted(self._pulled):  # the layers stay (shared with the local builds)
            with contextlib.suppress(Exception):
                self._client.images.remove(reference)
        shutil.rmtree(self.workdir, ignore_errors=True)
        self._client.close()
