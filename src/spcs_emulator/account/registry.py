"""What an account can do, registered once when it is built: statement handlers by statement type,
object kinds, and the functions SELECT and CALL know. The account registers its own (engine.py); other
layers add theirs (``spcs/registration.py``) without the account naming them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from spcs_emulator import errors
from spcs_emulator.account.context import Context
from spcs_emulator.account.object_kinds import ObjectKind
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.protocol.backend import Transfer
from spcs_emulator.results import ColumnType, Result

# A function of SELECT/CALL: f(ctx, args) -> (value, column type).
Function = Callable[["StatementContext", tuple[Any, ...]], tuple[Any, ColumnType]]
Handler = Callable[["StatementContext", Any], Result | Transfer]


@dataclass
class Registry:
    handlers: dict[type, Handler] = field(default_factory=dict)
    kinds: dict[str, ObjectKind] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)

    def add_kinds(self, kinds: Iterable[ObjectKind]) -> None:
        for kind in kinds:
            self.kinds[kind.kind] = kind

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
