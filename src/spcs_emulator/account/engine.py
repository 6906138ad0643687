"""The emulated account as the protocol sees it: login, logout, statement execution, and registration
of what other layers add (object kinds, statement handlers, functions).

The state (catalog, grants, sessions, faults, lock) lives in ``state.py``; what each statement does
lives in ``handlers/`` and, per object kind, in ``kinds/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from spcs_emulator import errors
from spcs_emulator.account import auth
from spcs_emulator.account.access import (
    ACCOUNT_PRIVILEGES,
    ACCOUNTADMIN,
    BOOTSTRAP_ACCOUNT_GRANTS,
    SYSTEM_ROLES,
    AccessControl,
)
from spcs_emulator.account.handlers import grants, objects, session, stages
from spcs_emulator.account.kinds import (
    databases,
    network,
    pats,
    principals,
    secrets,
    warehouses,
)
from spcs_emulator.account.kinds import stages as stage_kind
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject, User
from spcs_emulator.account.registry import (
    Function,
    GrantsListing,
    Handler,
    ObjectRoleNaming,
    Registry,
    ShowListing,
    StatementContext,
)
from spcs_emulator.account.session import Session
from spcs_emulator.account.state import DEFAULT_REGISTRY_HOST, AccountState
from spcs_emulator.protocol.backend import LoginRequest, Transfer
from spcs_emulator.results import Result
from spcs_emulator.sql import ast
from spcs_emulator.sql.parser import parse

ADMIN_USER = "ADMIN"
# The account is thread-safe and parses statements outside its lock, so the protocol may run this many
# at once: a login or a short statement goes on while another session's large statement is parsed.
STATEMENT_WORKERS = 4

ACCOUNT_HANDLERS: dict[type, Handler] = {
    ast.Use: session.use,
    ast.AlterSession: session.alter_session,
    ast.Select: session.select,
    ast.Call: session.call,
    ast.Begin: session.begin,
    ast.Create: objects.create,
    ast.Drop: objects.drop,
    ast.Alter: objects.alter,
    ast.Describe: objects.describe,
    ast.Show: objects.show,
    ast.Grant: grants.grant,
    ast.GrantRole: grants.grant_role,
    ast.ShowGrants: grants.show_grants,
    ast.ShowTokens: pats.show_tokens,
    ast.Put: stages.put,
    ast.GetStage: stages.get,
    ast.ListStage: stages.list_stage,
    ast.RemoveStage: stages.remove_stage,
}

# The account's own kinds (other layers add theirs: add_kinds).
OWN_KINDS: tuple[ObjectKind, ...] = (
    databases.DATABASE_KIND,
    databases.SCHEMA_KIND,
    warehouses.WAREHOUSE_KIND,
    principals.ROLE_KIND,
    principals.USER_KIND,
    stage_kind.STAGE_KIND,
    secrets.SECRET_KIND,
    network.NETWORK_RULE_KIND,
    *network.INTEGRATION_KINDS,
)


class Account:
    """One account. Thread-safe: every statement runs under the state's lock."""

    def __init__(
        self,
        *,
        name: str = "EMULATED",
        admin_password: str,
        state_dir: Path,
        registry_host: str = DEFAULT_REGISTRY_HOST,
    ) -> None:
        self.state = AccountState(name=name, state_dir=state_dir, registry_host=registry_host)
        self.registry = Registry(
            handlers=dict(ACCOUNT_HANDLERS),
            functions=dict(session.CONTEXT_FUNCTIONS),
            grants_listings=dict(grants.SHOW_GRANTS),
            table=self.state.kinds,
        )
        self.registry.add_kinds(OWN_KINDS)
        self.registry.add_account_privileges(ACCOUNT_PRIVILEGES, BOOTSTRAP_ACCOUNT_GRANTS)
        self._admin_password = admin_password
        self._bootstrap()

    # -- registration (by the layers above, once, before serving) --------------------------------

    def add_kinds(self, kinds: Iterable[ObjectKind]) -> None:
        self.registry.add_kinds(kinds)

    def add_handlers(self, handlers: Mapping[type, Handler]) -> None:
        self.registry.handlers.update(handlers)

    def add_functions(self, functions: Mapping[str, Function]) -> None:
        self.registry.functions.update(functions)

    def add_account_privileges(self, privileges: tuple[str, ...], granted: Iterable[tuple[str, str]]) -> None:
        """Account privileges no kind's CREATE covers, and (privilege, role) grants a fresh account makes.
        The account's grants start afresh with them (registration comes before any statement)."""
        self.registry.add_account_privileges(privileges, granted)
        with self.state.lock:
            self._bootstrap_access()

    def add_grants_listings(self, listings: Mapping[str, GrantsListing]) -> None:
        """SHOW GRANTS modes (by the mode: 'TO ROLE', 'ON', ...)."""
        self.registry.grants_listings.update(listings)

    def add_show_listings(self, listings: Mapping[tuple[str, str | None], ShowListing]) -> None:
        """SHOW listings that are not a kind's own, by (what is shown, the kind of its IN scope or None
        for any), e.g. a listing of what lives inside one object of a kind another layer declares."""
        self.registry.show_listings.update(listings)

    def add_object_role_names(self, namings: Mapping[type, ObjectRoleNaming]) -> None:
        """How statements name the roles objects define (GRANT <name> TO ROLE r, SHOW GRANTS OF ...)."""
        self.registry.object_role_names.update(namings)

    # -- state ------------------------------------------------------------------------------------

    def _bootstrap(self) -> None:
        catalog = self.state.catalog
        for role in SYSTEM_ROLES:
            catalog.add(CatalogObject(ast.ROLE, (role,), owner=ACCOUNTADMIN))
        admin = User(ast.USER, (ADMIN_USER,), owner=ACCOUNTADMIN, password=self._admin_password)
        admin.default_role = ACCOUNTADMIN
        catalog.add(admin)
        self._bootstrap_access()

    def _bootstrap_access(self) -> None:
        """A fresh account's grants: the system roles' hierarchy, the registered account grants, and
        ACCOUNTADMIN to the admin user."""
        access = self.state.access = AccessControl()
        access.bootstrap(self.registry.bootstrap_grants)
        access.grant_role(ACCOUNTADMIN, ast.USER, ADMIN_USER, ACCOUNTADMIN)

    def reset(self) -> None:
        """Back to a fresh account (fixtures call this between tests)."""
        with self.state.lock:
            self.state.catalog.reset()
            self.state.access = AccessControl()
            # The admin user is recreated as it was, so its sessions live on; every other user is gone.
            self.state.end_sessions(lambda session: session.user != ADMIN_USER)
            self.state.faults.clear()
            self.state.extensions.reset()
            self._bootstrap()

    # -- AccountBackend ---------------------------------------------------------------------------

    def login(self, request: LoginRequest) -> Session:
        with self.state.lock:
            user = auth.authenticate(self.state, request)
            session = auth.open_session(self.state, user, request)
            self.state.sessions[session.id] = session
            return session

    def logout(self, session: Session) -> None:
        with self.state.lock:
            self.state.sessions.pop(session.id, None)

    def execute(self, session: Session, sql: str) -> Result | Transfer:
        # Parsing (bounded before it starts, sql/limits.py) holds no lock: other sessions go on meanwhile.
        statement = parse(sql)
        with self.state.lock:
            # Access taken away is gone: the user and the current role are checked on every statement.
            auth.check_session(self.state, session, role=not _may_run_without_role(statement))
            self.state.faults.check_statement(sql)
            handler = self.registry.handlers.get(type(statement))
            if handler is None:
                raise errors.not_emulated(type(statement).__name__)
            return handler(StatementContext(self.state, session, self.registry), statement)


def _may_run_without_role(statement: object) -> bool:
    """USE ROLE and USE SECONDARY ROLES let a session whose current role was revoked pick another."""
    return isinstance(statement, ast.Use) and statement.kind in (ast.ROLE, "SECONDARY ROLES")
