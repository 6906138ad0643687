"""A logged-in session: who, with which roles, in which database/schema/warehouse."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count(1)


@dataclass
class Session:
    user: str
    role: str
    secondary_all: bool = True
    # A login with a role-restricted programmatic access token: this role only, never secondary roles
    # ("Secondary roles are not used, even if DEFAULT_SECONDARY_ROLES is set to ('ALL')", docs:
    # sql-reference/sql/alter-user-add-programmatic-access-token), and no USE ROLE of another.
    role_restriction: str | None = None
    database: str | None = None
    schema: str | None = None
    warehouse: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def uses_secondary_roles(self) -> bool:
        """Whether the session acts with its user's other roles too: never with a role restriction."""
        return self.secondary_all and self.role_restriction is None

    def context(self) -> dict[str, str | None]:
        return {
            "databaseName": self.database,
            "schemaName": self.schema,
            "warehouseName": self.warehouse,
            "roleName": self.role,
        }
