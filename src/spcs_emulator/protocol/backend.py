"""The contract between the wire protocol and the emulated account.

The protocol layer owns HTTP, gzip, session and master tokens, and the JSON shapes. The account owns
everything with meaning: who may log in, what a statement does, what a session's context is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from spcs_emulator.results import Result


@dataclass(frozen=True)
class LoginRequest:
    """What a login-request carries (body ``data`` plus the query string)."""

    account: str
    login_name: str
    authenticator: str = "SNOWFLAKE"  # SNOWFLAKE | SNOWFLAKE_JWT | PROGRAMMATIC_ACCESS_TOKEN | OAUTH
    password: str | None = None
    token: str | None = None  # the JWT, PAT or OAuth token
    database: str | None = None
    schema: str | None = None
    warehouse: str | None = None
    role: str | None = None
    session_parameters: dict[str, Any] = field(default_factory=dict)
    application: str = ""


class AccountSession(Protocol):
    """A logged-in session as the account sees it (user, current role, database, ...)."""

    id: int
    user: str

    def context(self) -> dict[str, str | None]:
        """``databaseName``, ``schemaName``, ``warehouseName``, ``roleName`` (never None)."""
        ...


@dataclass(frozen=True)
class Upload:
    """A PUT accepted by the account: the client sends ``src_locations`` to the storage stand-in, which
    writes them into ``directory`` (or, with stageInfo LOCAL_FS, writes them there itself).

    ``still_allowed`` is asked before each file the client sends through the S3 stand-in: whether the
    session's roles still hold WRITE on the very stage object the PUT named (it may have been revoked,
    or the stage dropped and re-created since). None: the backend does not re-check (test doubles)."""

    src_locations: tuple[str, ...]
    directory: Path
    auto_compress: bool
    overwrite: bool
    source_compression: str = "auto_detect"
    still_allowed: Callable[[], bool] | None = None


@dataclass(frozen=True)
class Download:
    """A GET accepted by the account: the client fetches each of ``files`` (paths below ``root``, the
    stage's directory) into ``local_directory`` through the storage stand-in, which re-checks
    ``still_allowed`` (the session may still READ the very stage object) before each file."""

    files: tuple[str, ...]
    root: Path
    local_directory: str
    still_allowed: Callable[[], bool] | None = None


# What a PUT or GET hands the client to carry out itself.
Transfer = Upload | Download

# A backend's own session type (the account's Session): what its login returns, its execute takes.
SessionT = TypeVar("SessionT", bound=AccountSession)


class AccountBackend(Protocol[SessionT]):
    def login(self, request: LoginRequest) -> SessionT:
        """Authenticate; raise ``SnowflakeError`` (390100 incorrect username or password, ...)."""
        ...

    def execute(self, session: SessionT, sql: str) -> Result | Transfer:
        """Run one statement; raise ``SnowflakeError`` for every failure."""
        ...

    def logout(self, session: SessionT) -> None: ...
