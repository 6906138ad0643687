"""Who may pull from or push to an image repository through the emulated registry (reference §10.2).

Credentials come as HTTP Basic, the way ``docker login`` and ``snow spcs image-registry login`` send
them: the user ``0sessiontoken`` with a session token as password (raw, or the JSON ``{"token": ...}``
the ``snow`` CLI pipes to ``docker login``), or a user's name with one of its programmatic access tokens.
Pulling needs READ on the repository, pushing READ and WRITE (OWNERSHIP covers both), and USAGE on its
database and schema, all decided on the account as it is now (a revoke counts at once). This module
knows no HTTP and no control plane: the front hands it the account, a session resolver and the request.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Literal

from spcs_emulator.account.access import RoleId
from spcs_emulator.account.state import AccountState
from spcs_emulator.spcs.identity import Refused, SessionResolver, identity
from spcs_emulator.sql import ast

SESSION_TOKEN_USER = "0sessiontoken"
Action = Literal["pull", "push"]


@dataclass(frozen=True)
class Decision:
    """``status``: 200 allowed, 401 no or bad credentials, 403 not allowed, 404 no such repository."""

    status: int
    user: str | None
    reason: str

    @property
    def allowed(self) -> bool:
        return self.status == 200


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic ...`` header; None when absent or malformed."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def token_in(user: str, password: str) -> str:
    """The token in a password: ``{"token": ...}`` from the snow CLI, else the password itself."""
    if user.lower() == SESSION_TOKEN_USER and password.lstrip().startswith("{"):
        try:
            value = json.loads(password).get("token")
        except (ValueError, AttributeError):
            return ""
        return value if isinstance(value, str) else ""
    return password


def authenticate(
    account: AccountState, sessions: SessionResolver, credentials: tuple[str, str] | None
) -> tuple[str, set[RoleId]] | Decision:
    """(user, roles) for credentials, else the refusal. A PAT counts only with its own user's name, a
    session token only with the user ``0sessiontoken``."""
    if credentials is None:
        return Decision(401, None, "no credentials")
    name, password = credentials
    token = token_in(name, password)
    if not token:
        return Decision(401, None, "no token in the password")
    try:
        who = identity(account, sessions, token)
    except Refused as refused:
        return Decision(401, None, str(refused))
    if who is None:
        return Decision(401, None, "the token is invalid or expired")
    user, roles = who
    is_session = sessions(token) is not None
    if is_session and name.lower() != SESSION_TOKEN_USER:
        return Decision(401, None, f"a session token is sent with the user name {SESSION_TOKEN_USER}")
    if not is_session and name.upper() != user.upper():
        return Decision(401, None, "the programmatic access token is not this user's")
    return user, roles


def authorize_repository(
    account: AccountState,
    sessions: SessionResolver,
    repository: tuple[str, str, str],
    action: Action,
    credentials: tuple[str, str] | None,
) -> Decision:
    """May these credentials ``action`` (pull or push) images of ``repository`` (DB, SCHEMA, REPO)?"""
    who = authenticate(account, sessions, credentials)
    if isinstance(who, Decision):
        return who
    user, roles = who
    access = account.access
    name = ".".join(repository)
    visible = (
        account.catalog.get(ast.IMAGE_REPOSITORY, repository) is not None
        and access.holds(roles, ast.DATABASE, repository[:1], "USAGE")
        and access.holds(roles, ast.SCHEMA, repository[:2], "USAGE")
        and access.has_any(roles, ast.IMAGE_REPOSITORY, repository)
    )
    if not visible:
        # As SQL answers: a repository the user may not see does not exist for them.
        return Decision(404, user, f"image repository {name} does not exist or not authorized")
    needed = ("READ",) if action == "pull" else ("READ", "WRITE")
    missing = [p for p in needed if not access.holds(roles, ast.IMAGE_REPOSITORY, repository, p)]
    if missing:
        return Decision(403, user, f"{action} needs {' and '.join(missing)} on image repository {name}")
    return Decision(200, user, action)
