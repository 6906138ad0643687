"""What object kinds and statement handlers work with: the account's state, the session, and the
privilege checks."""

from __future__ import annotations

from dataclasses import dataclass

from spcs_emulator import errors
from spcs_emulator.account.access import ACCOUNT_FQN, OWNERSHIP, RoleId
from spcs_emulator.account.catalog import privilege_noun, qualify
from spcs_emulator.account.objects import CatalogObject, family
from spcs_emulator.account.session import Session
from spcs_emulator.account.state import AccountState
from spcs_emulator.sql import ast


@dataclass
class Context:
    state: AccountState
    session: Session

    # -- roles ------------------------------------------------------------------------------------

    def primary_roles(self) -> set[RoleId]:
        return self.state.access.closure([self.session.role])

    def roles(self) -> set[RoleId]:
        """Primary role closure plus, with secondary roles ALL, every role granted to the user."""
        return self.state.access.session_roles(self.session)

    def has_account_privilege(self, privilege: str, *, primary_only: bool = False) -> bool:
        roles = self.primary_roles() if primary_only else self.roles()
        return self.state.access.has_account_privilege(roles, privilege)

    def manages_grants(self) -> bool:
        return self.has_account_privilege("MANAGE GRANTS")

    # -- objects ----------------------------------------------------------------------------------

    def qualify(self, kind: str, name: ast.Name) -> tuple[str, ...]:
        return qualify(self.state.kinds, kind, name, self.session)

    def visible(self, obj: CatalogObject) -> bool:
        access, roles = self.state.access, self.roles()
        if obj.kind == ast.ROLE:  # SHOW ROLES lists every role of the account
            return True
        if obj.kind == ast.USER and (obj.name == self.session.user or self.manages_grants()):
            return True
        if not access.has_any(roles, obj.kind, obj.fqn):
            return False
        namespace = self.state.kinds.namespace(obj.kind)
        if namespace == "schema":  # reaching into a schema needs its database and schema
            db, schema = obj.fqn[:1], obj.fqn[:2]
            return access.holds(roles, ast.DATABASE, db, "USAGE") and access.holds(
                roles, ast.SCHEMA, schema, "USAGE"
            )
        if namespace == "database":
            return access.holds(roles, ast.DATABASE, obj.fqn[:1], "USAGE")
        return True

    def lookup(self, kind: str, name: ast.Name, *, bypass_visibility: bool = False) -> CatalogObject:
        """The object, if it exists and the session may see it; else 002003, worded as Snowflake does."""
        fqn = self.qualify(kind, name)
        obj = self.state.catalog.get(kind, fqn)
        if obj is None or (not bypass_visibility and not self.visible(obj)):
            raise errors.does_not_exist(self.state.kinds.word(kind), ".".join(fqn))
        if kind != family(kind) and obj.subtype not in (None, kind):
            raise errors.does_not_exist(self.state.kinds.word(kind), ".".join(fqn))
        return obj

    def find(self, kind: str, name: ast.Name) -> CatalogObject | None:
        """Like :meth:`lookup` but None when missing or invisible (for IF EXISTS)."""
        try:
            return self.lookup(kind, name)
        except errors.SnowflakeError:
            return None

    def require(self, obj: CatalogObject, *privileges: str) -> None:
        """003001 unless the session holds one of ``privileges`` (OWNERSHIP always counts)."""
        if not self.state.access.holds(self.roles(), obj.kind, obj.fqn, *privileges):
            raise errors.insufficient_privileges(privilege_noun(obj.kind), obj.display)

    def require_owner(self, obj: CatalogObject) -> None:
        self.require(obj, OWNERSHIP)

    def require_create_in_account(self, kind: str, privilege: str) -> None:
        # Creation is authorised by the primary role alone (it becomes the owner).
        if not self.has_account_privilege(privilege, primary_only=True):
            raise errors.insufficient_account_privileges(self.state.name)

    def require_create_in_schema(self, kind: str, fqn: tuple[str, ...]) -> None:
        """CREATE <kind> in db.schema: USAGE on the database, and CREATE <kind> (or ownership) on the schema."""
        access, roles = self.state.access, self.primary_roles()
        db_fqn, schema_fqn = fqn[:1], fqn[:2]
        db = self.state.catalog.get(ast.DATABASE, db_fqn)
        if db is None or not access.has_any(self.roles(), ast.DATABASE, db_fqn):
            raise errors.does_not_exist("Database", db_fqn[0])
        schema = self.state.catalog.get(ast.SCHEMA, schema_fqn)
        if schema is None or not access.has_any(self.roles(), ast.SCHEMA, schema_fqn):
            raise errors.does_not_exist("Schema", ".".join(schema_fqn))
        if not access.holds(roles, ast.DATABASE, db_fqn, "USAGE") or not access.holds(
            roles, ast.SCHEMA, schema_fqn, f"CREATE {family(kind)}"
        ):
            raise errors.insufficient_privileges("schema", ".".join(schema_fqn))

    def account_fqn(self) -> tuple[str, ...]:
        return ACCOUNT_FQN
