"""The local SPCS runtime: each container of a service instance runs as real local processes.

``LocalRuntime.launch`` prepares a private directory per container (the image's files as its working
directory, secret files, DNS files) and hands the container to a supervisor thread, which behaves like
the kubelet SPCS runs on:

- it starts the runtime kind's processes (``runtime_kinds``) below a watchdog in a session of their own
  (``processes.Lifeline``: they die with the emulator), inside a bubblewrap sandbox that lets them
  write only their own directories and volumes (``confinement``), with an environment built from nothing
  (``container_env``: the spec's env and secrets, the platform's ``SNOWFLAKE_*`` variables, the service
  DNS env of ``dns``, and an allowlist of the emulator's own variables such as PATH; never its
  credentials) and stdout+stderr captured into timestamped logs, read in bounded lines and kept in
  capped, rotated files (``container_logs``: a container's output grows neither memory nor disk);
- it probes readiness in the background (status() only reads the last result, so it stays cheap):
  the spec's HTTP readiness probe, else the first endpoint's TCP port, and for Milvus also a real
  ``list_collections`` call (an open port is not a ready Milvus). A port counts only when a process of
  the container's own tree listens on it (``listeners``): another program on the same address and port
  is never taken for the container;
- a port of the run already held by a process outside the container fails the run at once (FAILED,
  naming the address and port), before it starts and while it comes up, instead of probing forever;
- a run that asks for a network namespace of its own (``RunPlan.isolate_network``: Milvus, whose
  servers listen on every address) gets it from its watchdog (``netns``); the runtime binds the
  forwarded ports on the container's address first (a clash fails the run at once, naming the address
  and port) and hands the sockets to the watchdog. Such a port counts for readiness only while a
  process of the container listens on it inside the namespace, and the probes go through the forwarder
  (which resets the connection when nothing answers inside);
- when the processes exit it reports FAILED with the exit code, keeps the run's log as the previous
  log, and restarts them after a back-off (``restart_count`` + 1), like a Kubernetes pod; a job's
  container (``ContainerLaunch.job``) runs once and ends DONE (exit code 0) or FAILED, logs kept.

Secret files (``directoryPath`` mounts) cannot appear at their absolute path without root; they are
written (mode 0600) to ``<container dir>/fs/<directoryPath>/<file>``, that directory is exported as
``SPCS_SECRET_DIR_<DIRECTORYPATH IN UPPER SNAKE CASE>`` and the stand-in root as ``SPCS_EMULATOR_FS``.
Environment values are never logged. Nothing is global: every process belongs to one runtime instance.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from spcs_emulator.paths import segment
from spcs_emulator.spcs import confinement, processes
from spcs_emulator.spcs.container_env import container_environment
from spcs_emulator.spcs.container_logs import LineStamper, LogFiles, timestamp
from spcs_emulator.spcs.dns import Addresses, dns_environment
from spcs_emulator.spcs.listeners import (
    Listener,
    all_listeners,
    bind_forwarded,
    conflicts,
    listeners_inside,
    listeners_of,
)
from spcs_emulator.spcs.runtime_api import JOB_DONE_MESSAGE, ContainerLaunch, ContainerStatus
from spcs_emulator.spcs.runtime_kinds import ContainerDirs, Planner, RunPlan, planner

READY_MESSAGE = "Running"
PROBE_TIMEOUT = 3.0


def default_cache_dir() -> Path:
    """Where the Milvus binaries are unpacked once (they are large; every runtime instance shares them)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spcs-emulator"


def _exit_code(returncode: int) -> int:
    """A killed process reports 128 + signal, as container runtimes do (SIGKILL -> 137)."""
    return 128 - returncode if returncode < 0 else returncode


def _safe_name(*parts: object) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", str(p)) for p in parts)


_SERVICE_ID = re.compile(r"[A-Za-z0-9_]+")  # no "-": it ends the prefix


def container_folder(launch: ContainerLaunch) -> str:
    """``<service id>-<instance>-<container>`` in the runtime's workdir: keyed by the service object's
    id, so that two names that fold into one file name (``"X RUN DB"``, ``X_RUN_DB``) or a service
    created again under a dropped one's name never share (and never stop) another's container. Without
    an id (a launch not made by the control plane), the service's name, encoded injectively. Container
    names start with a letter, so ``<service id>-`` is the prefix of one service's folders only."""
    if launch.service_id and _SERVICE_ID.fullmatch(launch.service_id):
        owner = launch.service_id
    else:
        owner = "name-" + segment(launch.service)
    return f"{owner}-{launch.instance_id}-{_safe_name(launch.container)}"


def secret_env_name(directory: str) -> str:
    """``/usr/local/creds`` -> ``SPCS_SECRET_DIR_USR_LOCAL_CREDS`` (``/`` -> ``SPCS_SECRET_DIR_ROOT``)."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", directory).strip("_").upper()
    return f"SPCS_SECRET_DIR_{stem or 'ROOT'}"


def _http_ok(url: str) -> bool:
    # No proxies: a probe of a loopback address must never go through $http_proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=PROBE_TIMEOUT) as response:
            status: int = response.status
            return 200 <= status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
            return True
    except OSError:
        return False


def milvus_answers(uri: str) -> bool:
    """Whether a Milvus at ``uri`` answers list_collections (an open port is not a ready Milvus)."""
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    try:
        client = MilvusClient(uri=uri, timeout=PROBE_TIMEOUT)
    except MilvusException:
        return False
    try:
        client.list_collections(timeout=PROBE_TIMEOUT)
        return True
    except Exception:  # any failure of the call means "not ready yet", never a crash
        return False
    finally:
        client.close()


def readiness(plan: RunPlan, ip: str, own: set[Listener] | None = None) -> tuple[bool, str]:
    """One readiness observation of a run: (ready, what is failing).

    ``own``: the listeners of the container's processes; when given, each of the plan's ports must be
    among them (a connection to ``ip:port`` alone may reach somebody else's process).
    """
    if own is not None:
        for port in sorted(plan.ports):
            if not any(listener.port == port and listener.covers(ip) for listener in own):
                return False, f"Readiness probe is failing: nothing of the container listens on port {port}"
    if plan.http_probe is not None:
        port, path = plan.http_probe
        if not _http_ok(f"http://{ip}:{port}/{path.lstrip('/')}"):
            return False, f"Readiness probe is failing at path: {path}, port: {port}"
    # Without a probe the port decides; for Milvus it is also checked first (a closed port fails fast).
    needs_port = plan.http_probe is None or plan.milvus_uri is not None
    if needs_port and plan.port is not None and not _port_open(ip, plan.port):
        return False, f"Readiness probe is failing: port {plan.port} does not accept connections"
    if plan.milvus_uri is not None and not milvus_answers(plan.milvus_uri):
        return False, "Readiness probe is failing: Milvus does not answer list_collections yet"
    return True, READY_MESSAGE


def serving_listeners(plan: RunPlan, own: set[Listener], tree: list[int]) -> set[Listener]:
    """The container's listeners that serve: in a namespace of its own, a forwarder's port only while
    a process of the container listens on that port inside (an open forwarder alone is not a server)."""
    if not plan.isolate_network:
        return own
    inside = {listener.port for listener in listeners_inside(tree) if listener.covers("127.0.0.1")}
    return {listener for listener in own if listener.port in inside}


class LocalContainer:
    """The ContainerHandle of one container: its supervisor thread, current process and logs."""

    def __init__(
        self,
        launch: ContainerLaunch,
        dirs: ContainerDirs,
        plan: Planner,
        env: dict[str, str],
        cache: Path,
        *,
        lifeline: processes.Lifeline,
        private: tuple[Path, ...],
        restart_delay: float,
        max_restart_delay: float,
        probe_interval: float,
        stop_grace: float,
    ) -> None:
        self.launch = launch
        self.dirs = dirs
        self._plan = plan
        self._env = env
        self._cache = cache
        self._lifeline = lifeline
        self._private = private
        self._restart_delay = restart_delay
        self._max_restart_delay = max_restart_delay
        self._probe_interval = probe_interval
        self._stop_grace = stop_grace
        self._run_grace = stop_grace  # the current run's: its plan may ask for less
        self._logs = LogFiles(launch.log_dir, _safe_name("instance", launch.instance_id))
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._state: tuple[ContainerStatus, str] = ("PENDING", "Waiting to start")
        self._restart_count = 0
        self._last_exit_code: int | None = None
        self._start_time: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stamper: LineStamper | None = None
        name = _safe_name(launch.service, launch.instance_id, launch.container)
        self._supervisor = threading.Thread(target=self._supervise, name=f"container-{name}", daemon=True)

    # -- ContainerHandle ---------------------------------------------------------------------------

    def status(self) -> tuple[ContainerStatus, str]:
        with self._lock:
            return self._state

    @property
    def restart_count(self) -> int:
        return self._restart_count

    @property
    def last_exit_code(self) -> int | None:
        return self._last_exit_code

    @property
    def start_time(self) -> float | None:
        return self._start_time

    @property
    def pid(self) -> int | None:
        """The current run's main process id (for diagnostics)."""
        proc = self._proc
        return None if proc is None else proc.pid

    def logs(self, *, previous: bool = False, lines: int | None = None, timestamps: bool = False) -> str:
        return self._logs.read(previous=previous, lines=lines, timestamps=timestamps)

    def crash(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            processes.kill_tree(proc)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            proc = self._proc
            grace = self._run_grace
        if proc is not None:
            processes.terminate_tree(proc, grace=grace)
        self._supervisor.join(grace + 2 * PROBE_TIMEOUT)
        self._finish_run(proc)
        with self._lock:
            self._state = ("DONE", "Container stopped")

    # -- supervision -------------------------------------------------------------------------------

    def start(self) -> None:
        self._logs.reset()
        self._supervisor.start()

    def _supervise(self) -> None:
        try:
            self._supervise_runs()
        except Exception as exc:  # a supervisor bug must show in the status, not vanish with the thread
            with self._lock:
                self._state = ("FAILED", f"Local runtime error: {type(exc).__name__}: {exc}")
            raise

    def _supervise_runs(self) -> None:
        first = True
        failures = 0  # runs in a row that never became ready: the back-off doubles with each
        while not self._stopping.is_set():
            if not first:
                self._restart_count += 1
                self._logs.rotate()
            first = False
            plan = self._spawn()
            became_ready = plan is not None and self._watch(plan)
            if self._stopping.is_set() or self.launch.job:
                return  # a job's container runs once: how its run ended (or failed to start) is final
            failures = 0 if became_ready else failures + 1
            delay = min(self._restart_delay * 2 ** min(max(failures - 1, 0), 10), self._max_restart_delay)
            self._stopping.wait(delay)  # back-off before the restart; stop() cuts it short

    def _spawn(self) -> RunPlan | None:
        try:
            plan = self._plan(self.launch, self.dirs, self._cache)
            env = container_environment(self.dirs.home, self.dirs.tmp, self.launch.env, self._env, plan.env)
            clash = self._port_clash(plan, set(), all_listeners())
            if clash is not None:
                raise RuntimeError(clash)
            self._log_notices(plan)
            sandbox = self._sandbox()
            forwards = bind_forwarded(self.launch.ip, plan.forwarded_ports) if plan.isolate_network else None
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return None
                    proc = self._lifeline.popen(
                        plan.argv,
                        cwd=plan.cwd,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        root=self.dirs.root,
                        forwards=forwards,
                        sandbox=sandbox,
                    )
                    self._proc = proc
                    self._run_grace = min(self._stop_grace, plan.stop_grace or self._stop_grace)
                    self._start_time = time.time()
                    self._state = ("PENDING", "Readiness probe is failing")
            finally:
                for sock, _ in forwards or ():
                    sock.close()  # the watchdog holds them now
        except (OSError, RuntimeError, ValueError) as exc:
            # A failure to start is a failed run: reported, counted and retried like a crash.
            message = f"Failed to start container {self.launch.container}: {exc}"
            self._log_lines((message,))
            with self._lock:
                self._state = ("FAILED", message)
            return None
        assert proc.stdout is not None
        self._stamper = LineStamper(proc.stdout, self._logs, self.launch.container)
        return plan

    def _watch(self, plan: RunPlan) -> bool:
        """Probe until ready, then wait for the run to end (or for stop()); True if it became ready."""
        proc = self._proc
        assert proc is not None
        ready = False
        while proc.poll() is None and not self._stopping.is_set():
            if not ready:
                everything = all_listeners()  # before the tree's own: see listeners.conflicts
                tree = [proc.pid, *processes.descendants(proc.pid)]
                own = listeners_of(tree)
                clash = self._port_clash(plan, own, everything)
                if clash is not None:
                    return self._fail_run(proc, f"Failed to start container {self.launch.container}: {clash}")
                ready, message = readiness(plan, self.launch.ip, serving_listeners(plan, own, tree))
                with self._lock:
                    if proc.poll() is None and not self._stopping.is_set():
                        self._state = ("READY" if ready else "PENDING", message)
            self._stopping.wait(self._probe_interval)
        if self._stopping.is_set():
            return ready
        code = _exit_code(proc.wait())
        self._finish_run(proc)
        self._last_exit_code = code
        with self._lock:
            if self.launch.job and code == 0:
                self._state = ("DONE", JOB_DONE_MESSAGE)
            else:
                self._state = ("FAILED", f"Container {self.launch.container} exited with code {code}")
        return ready

    def _log_notices(self, plan: RunPlan) -> None:
        if plan.notices:
            self._log_lines(plan.notices)

    def _log_lines(self, lines: tuple[str, ...]) -> None:
        with self._logs.current.open("a", encoding="utf-8") as log:
            log.writelines(f"{timestamp()} {line}\n" for line in lines)

    def _sandbox(self) -> list[str] | None:
        """bubblewrap and its options for this run (``confinement``): the container writes only its own
        directories and volumes. Raises when it cannot be confined and must be (the emulator is root)."""
        writable = [self.dirs.root, *self.launch.volumes.values()]
        if self.dirs.sockets is not None:
            writable.append(self.dirs.sockets)
        for path in writable:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)  # a bind mount needs its source
        why = confinement.problem()
        executable = confinement.bwrap()
        if why is None and executable is not None:
            sandbox = confinement.for_container(
                writable=writable, private=self._private, readable=[self._cache]
            )
            return sandbox.argv(executable)
        if confinement.required():
            raise RuntimeError(
                f"the emulator runs as root, so its containers must run confined, and {why}; "
                "or run the emulator as an unprivileged user (docs/security.md)"
            )
        self._log_lines(
            (
                f"notice: this container runs unconfined: {why}. It can write every file of the "
                "emulator's user (docs/security.md).",
            )
        )
        return None

    def _port_clash(self, plan: RunPlan, own: set[Listener], everything: set[Listener]) -> str | None:
        """Why the run cannot bind one of its ports (a process outside the container holds it), or None."""
        if plan.bind_ip is None:
            return None
        clash = conflicts(plan.ports, plan.bind_ip, own, everything)
        if not clash:
            return None
        port = clash[0].port
        return (
            f"address {self.launch.ip}:{port} is already in use: {clash[0]} is held by a process "
            "outside the container"
        )

    def _fail_run(self, proc: subprocess.Popen[bytes], message: str) -> bool:
        """End a run that cannot work (its processes are killed) and report why; it is retried later."""
        self._finish_run(proc)  # first: its log is complete before the reason is appended
        self._log_lines((message,))
        with self._lock:
            self._state = ("FAILED", message)
        return False

    def _finish_run(self, proc: subprocess.Popen[bytes] | None) -> None:
        """Whatever the main process left behind dies with it (as in a container); then drain its log."""
        if proc is not None:
            processes.kill_tree(proc)
            self._lifeline.forget(proc)
        stamper, self._stamper = self._stamper, None
        if stamper is not None:
            stamper.join(self._stop_grace)


def _find_image_dir(image_dirs: Mapping[str, Path], image: str) -> Path | None:
    """By the spec's image string, else ``name:tag`` (tag defaults to latest), else ``name``."""
    last = image.rstrip("/").rsplit("/", 1)[-1]
    name, _, tag = last.partition(":")
    for key in (image, f"{name}:{tag or 'latest'}", name):
        if key in image_dirs:
            return image_dirs[key]
    return None


class LocalRuntime:
    """Runs containers as local processes (``Runtime`` of runtime_api).

    ``workdir``: private per-container directories go below it (a temporary directory, removed by
    shutdown(), when omitted). ``image_dirs``: image -> directory whose files the container sees in
    its working directory (keys: the spec's image string, or ``name:tag``, or ``name``).
    ``cache_dir``: where the Milvus binaries are unpacked once. ``use_nss_wrapper=False`` turns
    service DNS off (see ``dns``). The timing knobs make tests quick and production-like runs patient.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        image_dirs: Mapping[str, Path] | None = None,
        cache_dir: Path | None = None,
        use_nss_wrapper: bool = True,
        restart_delay: float = 1.0,
        max_restart_delay: float = 30.0,
        probe_interval: float = 0.5,
        stop_grace: float = 10.0,
        lifeline: processes.Lifeline | None = None,
        private_dirs: tuple[Path, ...] = (),
    ) -> None:
        self._owned_lifeline = lifeline is None
        self._lifeline = processes.Lifeline() if lifeline is None else lifeline
        self._owned_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="spcs-runtime-")) if workdir is None else workdir
        if self._owned_workdir:
            self._lifeline.guard(self.workdir)  # removed even if this process is killed
        self.image_dirs = dict(image_dirs or {})
        self.cache_dir = cache_dir or default_cache_dir()
        self._use_nss_wrapper = use_nss_wrapper
        self._timing = {
            "restart_delay": restart_delay,
            "max_restart_delay": max_restart_delay,
            "probe_interval": probe_interval,
            "stop_grace": stop_grace,
        }
        self._lock = threading.Lock()
        self._containers: list[LocalContainer] = []
        # Unix socket paths must stay under 108 bytes: a short private directory, whatever workdir is.
        self._sockets = Path(tempfile.mkdtemp(prefix="spcs-sock-"))
        self._lifeline.guard(self._sockets)  # removed even if this process is killed
        self._launches = itertools.count()
        # Hidden from every container (confinement): the runtime's own directories and the caller's.
        self._private = (self.workdir, self._sockets, *private_dirs)

    def launch(self, launch: ContainerLaunch) -> LocalContainer:
        if launch.runtime is None:
            raise ValueError(f"image {launch.image} has no stand-in for the process runtime")
        plan = planner(launch.runtime)  # an unknown runtime fails here, before anything is created
        root = self.workdir / container_folder(launch)
        with self._lock:
            replaced = [c for c in self._containers if c.dirs.root == root]
            self._containers = [c for c in self._containers if c.dirs.root != root]
        for old in replaced:  # a relaunch replaces the container: its processes go before its files do
            old.stop()
        sockets = self._sockets / str(next(self._launches))
        dirs = ContainerDirs(root=root, cwd=root / "cwd", data=root / "data", sockets=sockets)
        self._prepare(launch, dirs)
        env = dns_environment(
            launch.hosts,
            root / "dns",
            use_nss_wrapper=self._use_nss_wrapper,
            search_domain=launch.search_domain,
        )
        env.update(self._write_secrets(launch, dirs))
        container = LocalContainer(
            launch,
            dirs,
            plan,
            env,
            self.cache_dir,
            lifeline=self._lifeline,
            private=self._private,
            **self._timing,
        )
        with self._lock:
            self._containers.append(container)
        container.start()
        return container

    def update_hosts(self, hosts: Mapping[str, Addresses]) -> None:
        """Rewrite every running container's hosts file (services created after it become resolvable)."""
        with self._lock:
            containers = list(self._containers)
        for container in containers:
            if not container.dirs.root.is_dir():
                continue  # its service was dropped (forget_service): nothing may bring the folder back
            dns_environment(
                hosts,
                container.dirs.root / "dns",
                use_nss_wrapper=self._use_nss_wrapper,
                search_domain=container.launch.search_domain,
            )

    def forget_service(self, service_id: str) -> None:
        """The service was dropped and its containers have stopped: their folders go (secrets too)."""
        with self._lock:
            gone = [c for c in self._containers if c.launch.service_id == service_id]
            self._containers = [c for c in self._containers if c.launch.service_id != service_id]
        for container in gone:  # stopped already (the control plane waits for that)
            if container.dirs.sockets is not None:
                shutil.rmtree(container.dirs.sockets, ignore_errors=True)
        if service_id and _SERVICE_ID.fullmatch(service_id):
            for folder in self.workdir.glob(f"{service_id}-[0-9]*-*"):
                shutil.rmtree(folder, ignore_errors=True)

    def shutdown(self) -> None:
        with self._lock:
            containers, self._containers = self._containers, []
        for container in containers:
            container.stop()
        if self._owned_lifeline:
            self._lifeline.close()
        shutil.rmtree(self._sockets, ignore_errors=True)
        if self._owned_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- container directories ---------------------------------------------------------------------

    def _prepare(self, launch: ContainerLaunch, dirs: ContainerDirs) -> None:
        """A fresh container file system per launch: only volumes outlive it, as on SPCS."""
        if dirs.root.exists():
            shutil.rmtree(dirs.root)
        dirs.root.mkdir(parents=True, mode=0o700)
        source = launch.files or _find_image_dir(self.image_dirs, launch.image)
        if source is not None:
            shutil.copytree(source, dirs.cwd)
        else:
            dirs.cwd.mkdir()
        dirs.data.mkdir()

    def _write_secrets(self, launch: ContainerLaunch, dirs: ContainerDirs) -> dict[str, str]:
        env = {"SPCS_EMULATOR_FS": str(dirs.fs)}
        for directory, files in launch.secret_files.items():
            target = dirs.fs / directory.strip("/")
            target.mkdir(parents=True, exist_ok=True, mode=0o700)
            for name, content in files.items():
                path = target / name
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(content)
            env[secret_env_name(directory)] = str(target)
        return env
