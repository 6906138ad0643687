"""What the account knows of each registered object kind apart from its hooks: where its objects live,
how messages name it, and what may be granted on it. Every table here is derived from the kinds
registered (``registry.Registry.add_kinds``), so a kind's facts are declared once, in its
``ObjectKind``, whichever layer declares it.

Name resolution (``catalog``), visibility (``context``) and GRANT (``handlers/grants``) read these
facts from ``AccountState.kinds``; this module sits below them and so takes the declarations by their
shape (:class:`DeclaredKind`), not by the ``ObjectKind`` class whose hooks need a ``Context``.
"""

from __future__ import annotations

from typing import Literal, Protocol

from spcs_emulator.account.objects import family
from spcs_emulator.sql import ast

# Where an object lives: its fully qualified name has one part (account), two (in a database) or three
# (in a schema). CREATE is authorised in the same place: an account privilege, CREATE <kind> on the
# database, or CREATE <kind> on the schema.
Namespace = Literal["account", "database", "schema"]


class DeclaredKind(Protocol):
    """The facts of an ``ObjectKind`` this table derives from."""

    @property
    def kind(self) -> str: ...
    @property
    def word(self) -> str: ...
    @property
    def namespace(self) -> Namespace: ...
    @property
    def create_privilege(self) -> str: ...
    @property
    def privileges(self) -> tuple[str, ...]: ...
    @property
    def holds(self) -> Namespace | None: ...


class KindTable:
    def __init__(self) -> None:
        self._kinds: dict[str, DeclaredKind] = {}
        self._account_privileges: list[str] = []

    def add(self, kind: DeclaredKind) -> None:
        self._kinds[kind.kind] = kind

    def add_account_privileges(self, privileges: tuple[str, ...]) -> None:
        """Account privileges that are no kind's CREATE (those come with their kinds)."""
        self._account_privileges += [p for p in privileges if p not in self._account_privileges]

    def _declared(self, kind: str) -> DeclaredKind | None:
        return self._kinds.get(kind) or self._kinds.get(family(kind))

    def namespace(self, kind: str) -> Namespace | None:
        """Where objects of ``kind`` live; None for a kind nobody registered."""
        declared = self._declared(kind)
        return None if declared is None else declared.namespace

    def word(self, kind: str) -> str:
        """How messages name the kind ("Warehouse 'X' does not exist or not authorized.")."""
        declared = self._declared(kind)
        return kind.capitalize() if declared is None else declared.word

    def is_container(self, kind: str) -> bool:
        """Whether objects live inside it (its fqn prefixes theirs, and they go when it goes). Other
        objects share the one-part fqn space: a warehouse named like a database contains nothing of it."""
        declared = self._declared(kind)
        return declared is not None and declared.holds is not None

    def privileges(self, kind: str) -> tuple[str, ...]:
        """What may be granted on ``kind`` (ACCOUNT: on the account), which GRANT ALL expands to: the
        kind's own privileges, then CREATE <kind> of each kind registered in the namespace it holds."""
        own: tuple[str, ...]
        holds: Namespace | None
        if kind == ast.ACCOUNT:
            own, holds = tuple(self._account_privileges), "account"
        else:
            declared = self._declared(kind)
            if declared is None:
                return ()
            own, holds = declared.privileges, declared.holds
        created = tuple(k.create_privilege for k in self._kinds.values() if holds and k.namespace == holds)
        return tuple(dict.fromkeys(own + created))
