"""Roles, grants and the privilege checks every statement makes.

Model (Snowflake's, reduced to what the harness and the guide exercise):
- privileges are granted to roles; a role inherits every role granted to it (closure);
- a user acts with its current (primary) role's closure plus, with DEFAULT_SECONDARY_ROLES = ('ALL'),
  the closures of every role granted to it; CREATE is authorised by the primary role alone, which
  becomes the owner;
- OWNERSHIP implies every privilege on the object; MANAGE GRANTS allows granting anything;
- an object on which none of the session's roles holds any privilege is invisible: statements naming
  it fail with 002003 "does not exist or not authorized", as Snowflake answers. Visible but not allowed
  gives 003001 "Insufficient privileges".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from spcs_emulator.account.objects import now
from spcs_emulator.account.session import Session
from spcs_emulator.sql import ast

ACCOUNTADMIN, SECURITYADMIN, USERADMIN, SYSADMIN, PUBLIC = (
    "ACCOUNTADMIN",
    "SECURITYADMIN",
    "USERADMIN",
    "SYSADMIN",
    "PUBLIC",
)
SYSTEM_ROLES = (ACCOUNTADMIN, SECURITYADMIN, USERADMIN, SYSADMIN, PUBLIC)
OWNERSHIP = "OWNERSHIP"

# Account privileges that are no kind's CREATE. What may be granted on an object is declared by its kind
# (ObjectKind.privileges), and a kind's CREATE comes with the kind; other layers register their account
# privileges with the account (engine.Account.add_account_privileges).
ACCOUNT_PRIVILEGES = (
    "MANAGE GRANTS",
    "MONITOR USAGE",
    "MONITOR",
    "EXECUTE TASK",
    "MANAGE WAREHOUSES",
    "CREATE NETWORK POLICY",
)
# The account privileges of a fresh account (other layers add theirs the same way).
BOOTSTRAP_ACCOUNT_GRANTS: tuple[tuple[str, str], ...] = (
    ("CREATE USER", USERADMIN),
    ("CREATE ROLE", USERADMIN),
    ("MANAGE GRANTS", SECURITYADMIN),
    ("CREATE WAREHOUSE", SYSADMIN),
    ("CREATE DATABASE", SYSADMIN),
    ("CREATE INTEGRATION", ACCOUNTADMIN),
)
# A fresh account's grants are made role by role in this order, whichever layer registered them, so
# SHOW GRANTS ON ACCOUNT lists them so (tests/emulator/golden/show_output.json).
BOOTSTRAP_GRANT_ORDER = (USERADMIN, SECURITYADMIN, SYSADMIN, ACCOUNTADMIN, PUBLIC)
BOOTSTRAP_ROLE_GRANTS: tuple[tuple[str, str], ...] = (
    (SECURITYADMIN, ACCOUNTADMIN),
    (SYSADMIN, ACCOUNTADMIN),
    (USERADMIN, SECURITYADMIN),
)

ACCOUNT_FQN: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectRole:
    """A role an object defines (``DB.S.X!ROLE_NAME``), as its kind declares (``ObjectKind.roles``). Not a
    name in the account's role namespace: a role created with the same text (``CREATE ROLE
    "DB.S.X!ROLE_NAME"``) is a plain ``str`` and never equal to it, so it never passes for the object's
    role (the red team's look-alike)."""

    kind: str  # the object's family
    fqn: tuple[str, ...]
    name: str

    def __str__(self) -> str:
        return ".".join(self.fqn) + "!" + self.name


# What a role grant grants, and what a session acts with: account roles by name, objects' roles by type.
RoleId = str | ObjectRole


@dataclass(frozen=True)
class PrivilegeGrant:
    privilege: str
    kind: str  # ACCOUNT or an object family
    fqn: tuple[str, ...]
    grantee: str  # a role name
    grant_option: bool
    granted_by: str
    created_on: dt.datetime = field(default_factory=now, compare=False)


@dataclass(frozen=True)
class RoleGrant:
    role: RoleId  # a role name, or an object's role
    grantee_kind: str  # ROLE or USER
    grantee: str
    granted_by: str
    created_on: dt.datetime = field(default_factory=now, compare=False)


class AccessControl:
    def __init__(self) -> None:
        self.grants: list[PrivilegeGrant] = []
        self.role_grants: list[RoleGrant] = []

    # -- role graph ---------------------------------------------------------------------------------

    def closure(self, roles: Iterable[RoleId]) -> set[RoleId]:
        """The roles plus every role granted to them, transitively, plus PUBLIC."""
        seen: set[RoleId] = set()
        stack: list[RoleId] = [*roles, PUBLIC]
        while stack:
            role = stack.pop()
            if role in seen:
                continue
            seen.add(role)
            stack.extend(g.role for g in self.role_grants if g.grantee_kind == ast.ROLE and g.grantee == role)
        return seen

    def roles_of_user(self, user: str) -> set[RoleId]:
        return {g.role for g in self.role_grants if g.grantee_kind == ast.USER and g.grantee == user} | {
            PUBLIC
        }

    def granted_roles(self, user: str) -> set[RoleId]:
        """Every role the user may act with: the closure of the roles granted to it."""
        return self.closure(self.roles_of_user(user))

    def session_roles(self, session: Session) -> set[RoleId]:
        """The roles a session acts with, for statements and ingress alike: its primary role's closure
        plus, with secondary roles ALL, every role granted to its user."""
        roles = self.closure([session.role])
        if session.uses_secondary_roles:
            roles |= self.granted_roles(session.user)
        return roles

    def grant_role(self, role: RoleId, grantee_kind: str, grantee: str, granted_by: str) -> None:
        if not any(
            g.role == role and g.grantee_kind == grantee_kind and g.grantee == grantee
            for g in self.role_grants
        ):
            self.role_grants.append(RoleGrant(role, grantee_kind, grantee, granted_by))

    def revoke_role(self, role: RoleId, grantee_kind: str, grantee: str) -> None:
        self.role_grants = [
            g
            for g in self.role_grants
            if not (g.role == role and g.grantee_kind == grantee_kind and g.grantee == grantee)
        ]

    def would_cycle(self, role: RoleId, into: str) -> bool:
        """Granting ``role`` to role ``into`` makes a cycle when ``role`` already inherits ``into``."""
        return into in self.closure([role]) - {PUBLIC} or role == into

    # -- privileges ---------------------------------------------------------------------------------

    def grant(
        self,
        privilege: str,
        kind: str,
        fqn: tuple[str, ...],
        grantee: str,
        granted_by: str,
        grant_option: bool,
    ) -> None:
        for existing in self.grants:
            if (existing.privilege, existing.kind, existing.fqn, existing.grantee) == (
                privilege,
                kind,
                fqn,
                grantee,
            ):
                if grant_option and not existing.grant_option:
                    self.grants.remove(existing)
                    break
                return
        self.grants.append(PrivilegeGrant(privilege, kind, fqn, grantee, grant_option, granted_by))

    def revoke(self, privilege: str, kind: str, fqn: tuple[str, ...], grantee: str) -> None:
        self.grants = [
            g
            for g in self.grants
            if not (g.privilege == privilege and g.kind == kind and g.fqn == fqn and g.grantee == grantee)
        ]

    def set_owner(self, kind: str, fqn: tuple[str, ...], role: str, granted_by: str) -> None:
        self.grants = [
            g for g in self.grants if not (g.kind == kind and g.fqn == fqn and g.privilege == OWNERSHIP)
        ]
        self.grants.append(PrivilegeGrant(OWNERSHIP, kind, fqn, role, True, granted_by))

    def owner(self, kind: str, fqn: tuple[str, ...]) -> str | None:
        for g in self.grants:
            if g.kind == kind and g.fqn == fqn and g.privilege == OWNERSHIP:
                return g.grantee
        return None

    def forget_object(self, kind: str, fqn: tuple[str, ...], *, contains: bool) -> None:
        """Drop every grant on the object (and, when it ``contains`` others, on what it contains), and
        every grant of the roles it defines."""
        n = len(fqn)
        self.grants = [
            g
            for g in self.grants
            if not (g.fqn[:n] == fqn and (g.kind == kind or (contains and len(g.fqn) > n)))
        ]
        self.role_grants = [
            g
            for g in self.role_grants
            if not (isinstance(g.role, ObjectRole) and (g.role.kind, g.role.fqn) == (kind, fqn))
        ]

    def forget_role(self, role: str, heir: str) -> None:
        """DROP ROLE: grants to and of it vanish; what it owned passes to ``heir`` (the dropping role)."""
        owned = [g for g in self.grants if g.grantee == role and g.privilege == OWNERSHIP]
        self.grants = [g for g in self.grants if g.grantee != role]
        self.role_grants = [
            g
            for g in self.role_grants
            if g.role != role and not (g.grantee_kind == ast.ROLE and g.grantee == role)
        ]
        for g in owned:
            self.grants.append(PrivilegeGrant(OWNERSHIP, g.kind, g.fqn, heir, True, heir))

    def forget_user(self, user: str) -> None:
        self.role_grants = [
            g for g in self.role_grants if not (g.grantee_kind == ast.USER and g.grantee == user)
        ]

    def privileges_of(self, roles: AbstractSet[RoleId], kind: str, fqn: tuple[str, ...]) -> set[str]:
        return {g.privilege for g in self.grants if g.kind == kind and g.fqn == fqn and g.grantee in roles}

    def holds(self, roles: AbstractSet[RoleId], kind: str, fqn: tuple[str, ...], *privileges: str) -> bool:
        held = self.privileges_of(roles, kind, fqn)
        return OWNERSHIP in held or any(p in held for p in privileges)

    def has_any(self, roles: AbstractSet[RoleId], kind: str, fqn: tuple[str, ...]) -> bool:
        return bool(self.privileges_of(roles, kind, fqn))

    def has_account_privilege(self, roles: AbstractSet[RoleId], privilege: str) -> bool:
        return privilege in self.privileges_of(roles, ast.ACCOUNT, ACCOUNT_FQN)

    def bootstrap(self, account_grants: Iterable[tuple[str, str]]) -> None:
        """A fresh account's role hierarchy, and ``account_grants`` (privilege, role) in role order."""
        for role, into in BOOTSTRAP_ROLE_GRANTS:
            self.grant_role(role, ast.ROLE, into, ACCOUNTADMIN)
        for privilege, role in sorted(account_grants, key=lambda g: BOOTSTRAP_GRANT_ORDER.index(g[1])):
            self.grant(privilege, ast.ACCOUNT, ACCOUNT_FQN, role, ACCOUNTADMIN, False)
