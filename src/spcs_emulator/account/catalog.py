"""The account's objects, keyed by (family, fully qualified name), with name resolution."""

from __future__ import annotations

from collections.abc import Iterator

from spcs_emulator import errors
from spcs_emulator.account.kind_table import KindTable
from spcs_emulator.account.objects import CatalogObject, family
from spcs_emulator.account.session import Session
from spcs_emulator.sql import ast


def privilege_noun(kind: str) -> str:
    """The lower-case noun of 003001 messages: 'Insufficient privileges to operate on warehouse 'W'.'"""
    return family(kind).lower()


class Catalog:
    def __init__(self, kinds: KindTable) -> None:
        self._kinds = kinds  # which kinds hold others
        self._objects: dict[tuple[str, tuple[str, ...]], CatalogObject] = {}

    def add(self, obj: CatalogObject) -> None:
        self._objects[(family(obj.kind), obj.fqn)] = obj

    def remove(self, kind: str, fqn: tuple[str, ...]) -> CatalogObject | None:
        removed = self._objects.pop((family(kind), fqn), None)
        if self._kinds.is_container(kind):  # contents go with their container
            n = len(fqn)
            for key in [k for k in self._objects if len(k[1]) > n and k[1][:n] == fqn]:
                del self._objects[key]
        return removed

    def contents(self, kind: str, fqn: tuple[str, ...]) -> list[CatalogObject]:
        """Everything inside the object: for a database or schema its schemas and the objects in them,
        for any other kind nothing."""
        if not self._kinds.is_container(kind):
            return []
        n = len(fqn)
        return [obj for (_, key), obj in self._objects.items() if len(key) > n and key[:n] == fqn]

    def get(self, kind: str, fqn: tuple[str, ...]) -> CatalogObject | None:
        return self._objects.get((family(kind), fqn))

    def all(self, kind: str) -> Iterator[CatalogObject]:
        fam = family(kind)
        for (k, _), obj in sorted(self._objects.items(), key=lambda kv: kv[0][1]):
            if k == fam:
                yield obj

    def reset(self) -> None:
        self._objects.clear()


def qualify(kinds: KindTable, kind: str, name: ast.Name, session: Session) -> tuple[str, ...]:
    """Fully qualify ``name`` for ``kind`` using the session's current database and schema."""
    parts = name.parts
    namespace = kinds.namespace(kind)
    if namespace == "account":
        if len(parts) != 1:
            raise errors.compilation(f"invalid identifier '{name}'", errno=2003, sqlstate="02000")
        return parts
    if namespace == "database":
        if len(parts) == 2:
            return parts
        if len(parts) == 1:
            if not session.database:
                raise errors.compilation(
                    "Cannot perform operation. This session does not have a current database. "
                    "Call 'USE DATABASE', or use a qualified name.",
                    errno=90105,
                    sqlstate="22000",
                )
            return (session.database, parts[0])
        raise errors.compilation(f"invalid identifier '{name}'")
    if namespace == "schema":
        if len(parts) == 3:
            return parts
        if len(parts) == 2:
            if not session.database:
                raise errors.no_current("database")
            return (session.database, *parts)
        if not session.database:
            raise errors.no_current("database")
        if not session.schema:
            raise errors.no_current("schema")
        return (session.database, session.schema, parts[0])
    raise errors.not_emulated(f"objects of kind {kind}")
