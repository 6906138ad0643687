"""One emulated account served over HTTP: the composition root of the emulator.

    with Emulator() as emu:
        conn = snowflake.connector.connect(**emu.connection_parameters())

Everything the emulator starts (protocol server, reconciler, container processes, ingress proxies)
is stopped by :meth:`Emulator.stop`, which also runs on ``__exit__``. When the emulator dies without
stopping (SIGKILL), its containers' watchdogs end them and a guard removes a temporary state directory
(``spcs/watchdog.py``); a new emulator on the same state directory reaps whatever survived even that
(``spcs/leftovers.py``). The state directory is private to its user (mode 0700): it holds secrets.

Where the distribution registry is installed (Debian's ``docker-registry``), the account's registry host
serves the OCI API on loopback (``spcs/registry.py``): ``docker login`` with a session token, then
``docker push`` into an image repository, as on SPCS. Without it, the emulator says so once and images
are published by name through the control API.
"""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from spcs_emulator.account.engine import ADMIN_USER, STATEMENT_WORKERS, Account
from spcs_emulator.account.faults import Faults
from spcs_emulator.account.session import Session
from spcs_emulator.control_api import add_control_routes
from spcs_emulator.protocol.app import build_app
from spcs_emulator.protocol.server import ProtocolServer
from spcs_emulator.protocol.sessions import SessionStore, TokenError
from spcs_emulator.spcs.control import ControlPlane
from spcs_emulator.spcs.endpoint_tokens import EndpointGrant, EndpointTokens
from spcs_emulator.spcs.leftovers import StateDirClaim, reap, records_dir
from spcs_emulator.spcs.oauth_token import add_token_exchange_routes, public_endpoint_at
from spcs_emulator.spcs.oci_storage import registry_binary
from spcs_emulator.spcs.processes import Lifeline
from spcs_emulator.spcs.registration import register_spcs
from spcs_emulator.spcs.registry import EmulatedRegistry
from spcs_emulator.spcs.runtime_api import Ingress, Runtime

if TYPE_CHECKING:
    from spcs_emulator.spcs.docker_runtime import DockerRuntime
from spcs_emulator.sql import ast

ACCOUNT_NAME = "EMULATED"
# Where services run: local processes, the pushed images on a Docker engine, or docker where it can.
CONTAINER_RUNTIMES = ("process", "docker", "auto")
NAMED_REGISTRY_HOST = f"{ACCOUNT_NAME.lower()}.registry.spcs-emulator.local"  # no registry runs: a name only

log = logging.getLogger(__name__)
_told_no_registry = False


def _no_registry_once() -> None:
    global _told_no_registry
    if not _told_no_registry:
        _told_no_registry = True
        log.warning(
            "no image registry: docker-registry is not installed (bash scripts/install-docker.sh installs it); "
            "images are published by name through the control API"
        )


PR_SET_DUMPABLE = 4


def set_dumpable(value: int) -> None:
    """Set the process's dumpable flag. A non-dumpable process's memory and
    environment (/proc/<pid>/mem, environ) are closed to processes of the same uid that lack
    CAP_SYS_PTRACE: the emulator's containers run as its uid (without capabilities, see watchdog.py),
    and its memory holds the admin password and every session."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, value, 0, 0, 0)


class SharedStateDir(ValueError):
    """The state directory given is shared with others (another owner, or open for anyone to write)."""


def private_directory(path: Path) -> None:
    """Create ``path`` for this user only (0700), or tighten an existing one of ours to 0700. A
    directory others share (``/tmp``, another user's) is refused, never changed: it holds secrets, and
    taking its sticky bit or its group access away would break everyone else using it."""
    if path.exists():
        status = path.stat()
        if status.st_uid != os.getuid():
            raise SharedStateDir(f"state directory {path} belongs to uid {status.st_uid}, not to this user")
        if status.st_mode & (stat.S_ISVTX | stat.S_IWOTH):
            raise SharedStateDir(
                f"state directory {path} is shared (mode {stat.S_IMODE(status.st_mode):o}): "
                "give the emulator a directory of its own"
            )
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)


class Emulator:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_password: str | None = None,
        profile: str = "instant",
        time_scale: float = 1.0,
        state_dir: Path | None = None,
        with_runtime: bool = True,
        runtime: Runtime | None = None,
        ingress: Ingress | None = None,
        registry: bool | None = False,
        container_runtime: str = "process",
    ) -> None:
        """``registry``: serve the account's image registry (True: docker-registry must be installed;
        None: where it is installed, else say so once and publish by name; False: publish by name).
        ``container_runtime``: ``process`` (local stand-ins), ``docker`` (the pushed images themselves,
        pulled from the registry, which it needs), or ``auto`` (docker where an engine and the registry
        are there)."""
        self.host = host
        self.admin_password = admin_password or secrets.token_urlsafe(18)
        self._own_state_dir = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="spcs-emulator-")) if state_dir is None else state_dir
        private_directory(self.state_dir)
        self._claim: StateDirClaim | None = None
        self.lifeline = Lifeline(records_dir(self.state_dir))
        self.account = Account(
            name=ACCOUNT_NAME,
            admin_password=self.admin_password,
            state_dir=self.state_dir,
            registry_host=NAMED_REGISTRY_HOST,
        )
        self.endpoint_tokens = EndpointTokens()  # POST /oauth/token's, for one public endpoint each
        self.registry: EmulatedRegistry | None = None
        self._registry_server: ProtocolServer | None = None
        binary = registry_binary()
        if container_runtime == "docker" and registry is False:
            registry = True  # the docker runtime pulls from it
        if registry or registry is None:
            if binary is None:
                if registry:
                    raise FileNotFoundError(
                        "the image registry needs docker-registry: bash scripts/install-docker.sh"
                    )
                _no_registry_once()
            else:
                self.registry = EmulatedRegistry(
                    self.account.state,
                    self._resolve_token,
                    self.lifeline,
                    binary,
                    self.state_dir / "registry",
                )
                self.account.state.extensions.add(self.registry)  # reset with the account
        self._docker_runtime: DockerRuntime | None = None
        if with_runtime and runtime is None:
            from spcs_emulator.spcs.ingress import IngressProxy

            runtime = self._docker_or_none(container_runtime)
            if runtime is None:
                from spcs_emulator.spcs.runtime import LocalRuntime

                runtime = LocalRuntime(
                    self.state_dir / "containers", lifeline=self.lifeline, private_dirs=(self.state_dir,)
                )
            ingress = ingress or IngressProxy()
        self.control = ControlPlane(
            self.account.state,
            runtime=runtime,
            ingress=ingress,
            profile=profile,
            time_scale=time_scale,
            runs_images=self._docker_runtime is not None,
            token_resolver=self._resolve_token,  # reads self.sessions, made below, only when called
        )
        register_spcs(self.account, self.control)
        if self.registry is not None:  # SPCS's image repositories, whose DROP also empties the registry
            kind = self.account.registry.kind(ast.IMAGE_REPOSITORY)
            self.account.add_kinds([self.registry.repository_kind(kind)])
        self.sessions: SessionStore[Session] = SessionStore()
        self.account.state.session_end_listeners.append(self.sessions.end)
        app = build_app(self.account, self.sessions, backend_workers=STATEMENT_WORKERS)
        add_control_routes(app, self)
        add_token_exchange_routes(
            app, self.account.state, self.endpoint_tokens, lambda host: public_endpoint_at(self.control, host)
        )
        self.server = ProtocolServer(app, host=host, port=port)

    def _docker_or_none(self, choice: str) -> DockerRuntime | None:
        """The docker runtime when ``choice`` asks for it (``auto``: where it can run), else None."""
        if choice not in CONTAINER_RUNTIMES:
            raise ValueError(f"unknown container runtime {choice!r}: choose {', '.join(CONTAINER_RUNTIMES)}")
        if choice == "process":
            return None
        from spcs_emulator.spcs.docker_runtime import DockerRuntime, docker_problem

        problem = docker_problem() or (None if self.registry else "no image registry (docker-registry)")
        if problem:
            if choice == "docker":
                raise RuntimeError(f"the docker runtime cannot run here: {problem}")
            log.warning("container runtime auto: process (%s)", problem)
            return None
        assert self.registry is not None
        self._docker_runtime = DockerRuntime(
            lifeline=self.lifeline,
            state_dir=self.state_dir,
            pull_credentials=self.registry.platform_credentials,
        )
        return self._docker_runtime

    @property
    def container_runtime(self) -> str:
        """What runs the services' containers: docker, process, or none (a test double)."""
        if self._docker_runtime is not None:
            return "docker"
        return "process" if self.control.runtime is not None else "none"

    def _resolve_token(self, token: str) -> Session | EndpointGrant | None:
        grant = self.endpoint_tokens.grant(token)
        if grant is not None:
            return grant
        try:
            return self.sessions.lookup(token)
        except TokenError:
            return None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Claim the state directory, reap what a killed emulator left in it, then serve."""
        self._claim = StateDirClaim(self.state_dir)
        reap(self.state_dir)
        if self._docker_runtime is not None:
            self._docker_runtime.reap_leftovers()
        # Before any container exists; never given back: another emulator in this process may still run.
        set_dumpable(0)
        if self._own_state_dir:
            self.lifeline.guard(self.state_dir)  # removed even if this process is killed
        self.server.start()
        if self.registry is not None:
            self.registry.start()
            # Loopback: the Docker daemon then talks plain HTTP to it, and it is outside its proxy.
            address = self.host if self.host.startswith("127.") else "127.0.0.1"
            self._registry_server = ProtocolServer(
                self.registry.app(), host=address, port=0, name="spcs-emulator-registry"
            ).start()
            self.account.state.registry_host = f"{address}:{self._registry_server.port}"
        # Containers reach the SQL API as SNOWFLAKE_HOST:SNOWFLAKE_PORT (a wildcard bind means loopback).
        reachable = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        self.control.launches.snowflake_endpoint = (reachable, self.port)
        self.control.start()
        return self

    def stop(self) -> None:
        try:
            self.control.shutdown()
        finally:
            self.server.stop()
            if self._registry_server is not None:
                self._registry_server.stop()
                self._registry_server = None
            if self.registry is not None:
                self.registry.stop()
            self.lifeline.close()
            if self._claim is not None:
                self._claim.release()
                self._claim = None
            if self._own_state_dir:
                shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def reset(self) -> None:
        self.account.reset()

    @property
    def statement_faults(self) -> Faults:
        """Statements made to fail on purpose (the control API's ``faults/statement``)."""
        return self.account.state.faults

    # -- how clients reach it -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.server.port

    def connection_parameters(self, *, user: str = ADMIN_USER, password: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``snowflake.connector.connect`` (any account name is accepted)."""
        return {
            "account": ACCOUNT_NAME.lower(),
            "user": user,
            "password": self.admin_password if password is None else password,
            "host": self.host,
            "port": self.port,
            "protocol": "http",
        }

    def connections_toml(self, name: str = "emulator") -> str:
        """A ``connections.toml`` entry for the admin user (contains the admin password)."""
        p = self.connection_parameters()
        return (
            f"[{name}]\n"
            f'account = "{p["account"]}"\nuser = "{p["user"]}"\npassword = "{p["password"]}"\n'
            f'host = "{p["host"]}"\nport = {p["port"]}\nprotocol = "http"\nrole = "ACCOUNTADMIN"\n'
        )
