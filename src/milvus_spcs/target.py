"""Where `-m spcs` runs: the bundled emulator (self-started, or a running one named in
connections.toml) or a real account. Credentials stay inside; repr and logs never show them."""

from __future__ import annotations

import ipaddress
import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from milvus_spcs.config import HarnessConfig
from milvus_spcs.errors import PreflightError
from milvus_spcs.secret import Secret

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection

    from spcs_emulator import Emulator  # only named: an account's run never loads the emulator

log = logging.getLogger(__name__)
SECRET_KEYS = {"password", "token", "private_key", "private_key_file_pwd", "passcode"}


def token_of(conn: Any) -> Secret:
    """The session token of an open connection (connector 5.x keeps ``rest`` for exactly this use)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return Secret(conn.rest.token)


def _is_loopback(host: str | None) -> bool:
    if host in (None, "localhost"):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ReadableCredentials(UserWarning):
    """connections.toml holds a credential and other local users may read the file."""


def _warn_if_others_can_read(path: Path, connection: str) -> None:
    # The connector reads a group- or world-readable connections.toml without a word; the harness says so.
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        warnings.warn(
            f"{path} (mode {mode:04o}) holds a credential of connection {connection!r} and other local "
            f"users can read it: chmod 0600 {path}",
            ReadableCredentials,
            stacklevel=3,
        )


class TargetKind(StrEnum):
    """What answers the SQL, for the records' text: the bundled emulator or a real account."""

    EMULATOR = "emulator"
    ACCOUNT = "account"


@dataclass(frozen=True)
class Budgets:
    """Seconds a wait may take (DESIGN §4: pool 900, service 900, endpoint URL 600 on a real account)."""

    pool: float = 900.0
    service: float = 900.0
    endpoint: float = 600.0
    interval: float = 10.0


@dataclass
class Target(ABC):
    """What every target does: connect (as its admin or as a user), hand out session tokens, name its
    secrets, and answer the rules that differ (class attributes, so that no caller asks which kind)."""

    description: str
    _params: dict[str, Any] = field(repr=False)

    kind: ClassVar[TargetKind]
    ingress_scheme: ClassVar[str]  # how a client reaches a public endpoint
    budgets: ClassVar[Budgets]  # the run's waits: the emulator answers within seconds, an account minutes
    # Whether a run can put its images there itself (publish stand-ins by name, or build and push into
    # the emulator's registry). Where not, they are pushed beforehand (`milvus-spcs images push`) and
    # named with --image-repository/--image-tag; a service observation needs --service-image.
    supplies_images: ClassVar[bool]

    def secrets(self) -> list[str]:
        return [str(v) for k, v in self._params.items() if k in SECRET_KEYS and v]

    def connect(self, **overrides: Any) -> SnowflakeConnection:
        import snowflake.connector

        return snowflake.connector.connect(**{**self._params, **overrides})

    def connect_as(self, user: str, password: str) -> SnowflakeConnection:
        # Not the named connection: its role and authenticator are the admin's, not this user's.
        dropped = SECRET_KEYS | {"authenticator", "role", "user", "connection_name"}
        params = {k: v for k, v in self._params.items() if k not in dropped}
        import snowflake.connector

        return snowflake.connector.connect(**params, user=user, password=password)

    def session_token(self, user: str, password: str) -> tuple[SnowflakeConnection, Secret]:
        """(connection, its session token) for ``user``: what a client of the ingress holds. Close the
        connection when done; the token dies with it."""
        conn = self.connect_as(user, password)
        return conn, token_of(conn)

    @property
    def runs_pushed_images(self) -> bool:
        """Whether its services run the images pushed to it (then they must be pushed, not published
        by name)."""
        return False

    @abstractmethod
    def publish_image(self, image_url: str, runtime: str, files: Path | None) -> None:
        """Make ``image_url`` pullable by a service without a Docker engine (the emulator's stand-in)."""

    @abstractmethod
    def close(self) -> None:
        """Release what the target holds (what it started itself)."""


@dataclass
class EmulatorTarget(Target):
    """The bundled emulator: self-started (``emulator`` is then the one this target owns and stops on
    close) or a running one named in connections.toml."""

    _emulator: Emulator | None = field(default=None, repr=False)

    kind = TargetKind.EMULATOR
    ingress_scheme = "http"
    budgets = Budgets(pool=300.0, service=300.0, endpoint=300.0, interval=0.2)
    supplies_images = True

    @property
    def runs_pushed_images(self) -> bool:
        """A self-started emulator on its docker runtime. (A running one's runtime is not known here: it
        is taken for the process runtime, whose services run stand-ins.)"""
        return self._emulator is not None and self._emulator.container_runtime == "docker"

    def publish_image(self, image_url: str, runtime: str, files: Path | None) -> None:
        """Publish ``image_url`` (the emulator's `docker push`) through its control API."""
        from spcs_emulator import ControlClient, ControlError

        host, port, password = self._params["host"], int(self._params["port"]), str(self._params["password"])
        try:
            ControlClient(host, port, password).publish_image(image_url, runtime, files)
        except ControlError as exc:
            raise PreflightError(f"publishing {image_url} failed: {exc.error}") from None

    def close(self) -> None:
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None


@dataclass
class AccountTarget(Target):
    """A real Snowflake account (spending credits): images are pushed to it beforehand."""

    kind = TargetKind.ACCOUNT
    ingress_scheme = "https"
    budgets = Budgets()
    supplies_images = False

    def publish_image(self, image_url: str, runtime: str, files: Path | None) -> None:
        raise PreflightError(
            "building and pushing images needs a Docker engine",
            ["pass --image-tag TAG for images already pushed to the run's repository"],
        )

    def close(self) -> None:
        pass  # the connections are the callers'; the account goes on


def resolve_target(config: HarnessConfig) -> Target:
    """No connection named: start the bundled emulator. A named entry on loopback over http: a running
    `milvus-spcs emulator`. Anything else: a real account (spending credits)."""
    if config.snowflake_connection is None:
        from spcs_emulator import Emulator

        emulator = Emulator(
            profile=config.emulator_profile,
            time_scale=config.emulator_time_scale,
            # A temporary state (volumes hold hundreds of MB); the logs that matter are saved into
            # the run's artifacts by the teardown's diagnostics.
            state_dir=None,
            # The account's registry where docker-registry is installed (--image-source push needs it).
            registry=None,
            container_runtime=config.emulator_runtime,
        ).start()
        return EmulatorTarget(
            f"bundled emulator on 127.0.0.1:{emulator.port} (self-started)",
            emulator.connection_parameters(),
            emulator,
        )
    from snowflake.connector.config_manager import CONFIG_MANAGER, CONNECTIONS_FILE

    # The option's value (the connections.toml tables); __getitem__ is annotated as if it returned the
    # option itself, which is why the connector's own code casts it the same way.
    connections = cast(Mapping[str, Mapping[str, Any]], CONFIG_MANAGER["connections"])
    try:
        entry = dict(connections[config.snowflake_connection])
    except KeyError:
        raise PreflightError(
            f"no connection {config.snowflake_connection!r} in connections.toml",
            [
                "add it to $SNOWFLAKE_HOME/connections.toml (or ~/.snowflake/connections.toml), mode 0600",
                "or omit --snowflake-connection to use the bundled emulator",
            ],
        ) from None
    if SECRET_KEYS & entry.keys():
        _warn_if_others_can_read(Path(CONNECTIONS_FILE), config.snowflake_connection)
    params = {"connection_name": config.snowflake_connection}
    params.update(
        {k: entry[k] for k in ("host", "port", "protocol", "password", "user", "account") if k in entry}
    )
    if entry.get("protocol") == "http" and _is_loopback(str(entry.get("host"))):
        return EmulatorTarget(
            f"running emulator at {entry['host']}:{entry['port']} (connection {config.snowflake_connection})",
            params,
        )
    if not (entry.get("account") and entry.get("user")):
        raise PreflightError(f"connection {config.snowflake_connection!r} needs account and user")
    return AccountTarget(
        f"Snowflake account {entry['account']} (connection {config.snowflake_connection}; costs credits)",
        params,
    )
