"""The emulated account: authentication, one lock, and statement dispatch to the handler modules."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account import auth
from spcs_emulator.account.access import ACCOUNTADMIN, SYSTEM_ROLES, AccessControl
from spcs_emulator.account.catalog import Catalog
from spcs_emulator.account.context import Context
from spcs_emulator.account.faults import Faults
from spcs_emulator.account.objects import CatalogObject, User
from spcs_emulator.account.session import Session
from spcs_emulator.protocol.backend import LoginRequest, Upload
from spcs_emulator.results import Result
from spcs_emulator.sql import ast
from spcs_emulator.sql.parser import parse

log = logging.getLogger(__name__)

ADMIN_USER = "ADMIN"
Handler = Callable[[Context, Any], Result | Upload]


class Account:
    """One account. Thread-safe: the protocol thread, the ingress proxies and the lifecycle loop share it."""

    def __init__(self, *, name: str = "EMULATED", admin_password: str, state_dir: Path) -> None:
        self.name = name
        self.state_dir = state_dir
        self.lock = threading.RLock()
        self.catalog = Catalog()
        self.access = AccessControl()
        self.faults = Faults()
        self.sessions: dict[int, Session] = {}
        # Told the id of every session the account ends (the protocol's token store forgets it).
        self.session_end_listeners: list[Callable[[int], None]] = []
        self._admin_password = admin_password
        self._handlers: dict[type, Handler] = {}
        self._extensions_handlers: dict[type, Handler] = {}  # registered from outside; survive reset()
        self.extensions: dict[str, Any] = {}  # the SPCS control plane registers itself here
        self._bootstrap()

    # -- set-up -----------------------------------------------------------------------------------

    def register(self, handlers: dict[type, Handler]) -> None:
        self._extensions_handlers.update(handlers)
        self._handlers.update(handlers)

    def _bootstrap(self) -> None:
        for role in SYSTEM_ROLES:
            self.catalog.add(CatalogObject(ast.ROLE, (role,), owner=ACCOUNTADMIN))
        self.access.bootstrap()
        admin = User(ast.USER, (ADMIN_USER,), owner=ACCOUNTADMIN, password=self._admin_password)
        admin.default_role = ACCOUNTADMIN
        self.catalog.add(admin)
        self.access.grant_role(ACCOUNTADMIN, ast.USER, ADMIN_USER, ACCOUNTADMIN)
        from spcs_emulator.account.handlers import ALL_HANDLERS

        self._handlers = {**ALL_HANDLERS, **self._extensions_handlers}

    def reset(self) -> None:
        """Back to a fresh account (fixtures call this between tests)."""
        with self.lock:
            self.catalog.reset()
            self.access = AccessControl()
            # The admin user is recreated as it was, so its sessions live on; every other user is gone.
            self.end_sessions(lambda session: session.user != ADMIN_USER)
            self.faults.clear()
            for hook in self.extensions.values():
                reset = getattr(hook, "reset", None)
                if reset:
                    reset()
            self._bootstrap()

    # -- AccountBackend ---------------------------------------------------------------------------

    def login(self, request: LoginRequest) -> Session:
        with self.lock:
            user = auth.authenticate(self, request)
            session = auth.open_session(self, user, request)
            self.sessions[session.id] = session
            return session

    def logout(self, session: Session) -> None:
        with self.lock:
            self.sessions.pop(session.id, None)

    def end_sessions(self, which: Callable[[Session], bool]) -> None:
        """End the sessions ``which`` selects (their user was dropped or disabled); call with the lock held."""
        for session in [s for s in self.sessions.values() if which(s)]:
            del self.sessions[session.id]
            log.debug("session %s of user %r ended", session.id, session.user)
            for listener in self.session_end_listeners:
                listener(session.id)

    def execute(self, session: Session, sql: str) -> Result | Upload:
        statement = parse(sql)
        with self.lock:
            # Access taken away is gone: the user and the current role are checked on every statement.
            auth.check_session(self, session, role=not _may_run_without_role(statement))
            self.faults.check_statement(sql)
            handler = self._handlers.get(type(statement))
            if handler is None:
                raise errors.not_emulated(type(statement).__name__)
            return handler(Context(self, session), statement)


def _may_run_without_role(statement: object) -> bool:
    """USE ROLE and USE SECONDARY ROLES let a session whose current role was revoked pick another."""
    return isinstance(statement, ast.Use) and statement.kind in (ast.ROLE, "SECONDARY ROLES")
