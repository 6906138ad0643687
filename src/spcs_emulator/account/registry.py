"""What an account can do, registered once when it is built: statement handlers by statement type,
object kinds (and the tables derived from them: ``kind_table.py``), account privileges, the roles
objects define, the SHOW listings that are not a kind's own, the modes of SHOW GRANTS, and the functions SELECT and CALL know. The account registers its own (engine.py);
other layers add theirs (``spcs/registration.py``) without the account naming them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.kind_table import KindTable
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.protocol.backend import Transfer
from spcs_emulator.results import ColumnType, Result
from spcs_emulator.sql import ast

# A function of SELECT/CALL: f(ctx, args) -> (value, column type).
Function = Callable[["StatementContext", tuple[Any, ...]], tuple[Any, ColumnType]]
Handler = Callable[["StatementContext", Any], Result | Transfer]
# How a statement names a role an object defines (``x!ROLE``), by the parsed name's type: the name ->
# (the object's kind, the object's name, the role's name).
ObjectRoleNaming = Callable[[Any], tuple[str, ast.Name, str]]
# SHOW GRANTS in one of its modes ('TO ROLE', 'ON', ...).
GrantsListing = Callable[["StatementContext", ast.ShowGrants], Result]
# A SHOW that is not a kind's plain listing: SHOW <what> IN <scope kind> (or under any scope).
ShowListing = Callable[["StatementContext", ast.Show], Result]


@dataclass
class Registry:
    handlers: dict[type, Handler] = field(default_factory=dict)
    kinds: dict[str, ObjectKind] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    # Derived from ``kinds`` as they are added; the account's state shares it (AccountState.kinds).
    table: KindTable = field(default_factory=KindTable)
    # (privilege, role) granted on the account when it is fresh (access.AccessControl.bootstrap).
    bootstrap_grants: list[tuple[str, str]] = field(default_factory=list)
    object_role_names: dict[type, ObjectRoleNaming] = field(default_factory=dict)
    grants_listings: dict[str, GrantsListing] = field(default_factory=dict)  # by SHOW GRANTS mode
    # By (what is shown, the kind of its IN scope); a scope kind of None: under any scope, or none.
    show_listings: dict[tuple[str, str | None], ShowListing] = field(default_factory=dict)

    def add_kinds(self, kinds: Iterable[ObjectKind]) -> None:
        for kind in kinds:
            self.kinds[kind.kind] = kind
            self.table.add(kind)

    def add_account_privileges(self, privileges: tuple[str, ...], granted: Iterable[tuple[str, str]]) -> None:
        """Account privileges no kind's CREATE covers, and the (privilege, role) grants of a fresh account."""
        self.table.add_account_privileges(privileges)
        self.bootstrap_grants += [g for g in granted if g not in self.bootstrap_grants]

    def show_listing(self, what: str, scope_kind: str | None) -> ShowListing | None:
        """The listing registered for SHOW ``what`` IN a ``scope_kind`` (else for any scope); None: the
        kind's own listing (``handlers.objects.show_kind``)."""
        return self.show_listings.get((what, scope_kind)) or self.show_listings.get((what, None))

    def by_plural(self, plural: str) -> ObjectKind | None:
        """The kind SHOW <plural> lists (derived: a kind registered again cannot leave a stale entry)."""
        return next((k for k in self.kinds.values() if k.plural == plural), None)

    def kind(self, kind: str) -> ObjectKind:
        """The declaration of ``kind``; a Snowflake-style 'not emulated' error for a kind nobody declared."""
        declared = self.kinds.get(kind)
        if declared is None:
            raise errors.not_emulated(f"{kind} objects")
        return declared

    def kind_of(self, obj: CatalogObject) -> ObjectKind | None:
        return self.kinds.get(obj.subtype or obj.kind)


@dataclass
class StatementContext(Context):
    """A statement handler's context: the object kinds' context plus what the account can do."""

    registry: Registry = field(default_factory=Registry)
