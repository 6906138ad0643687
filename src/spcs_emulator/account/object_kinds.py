"""Object kinds: what CREATE/DROP/ALTER/SHOW/DESCRIBE do for each kind, declared once per kind.

A kind's hooks take a :class:`Context` (state, session, privilege checks). The kinds of the account
live in ``account/kinds/``; other layers declare theirs (``spcs/statements/``) and register them with
the account (``engine.Account.add_kinds``). Everything the account derives about kinds (namespaces,
message words, grantable privileges, containers: ``kind_table.py``) comes from these declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spcs_emulator.account.context import Context
from spcs_emulator.account.kind_table import Namespace
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.results import Column, Result
from spcs_emulator.sql import ast

Row = Callable[[Context, CatalogObject], Sequence[Any]]
Hook = Callable[[Context, CatalogObject], None]
CreateHook = Callable[[Context, CatalogObject, dict[str, Any]], None]
AlterHook = Callable[[Context, CatalogObject, ast.Alter], Result | None]


@dataclass(frozen=True)
class ObjectKind:
    kind: str
    word: str  # "Warehouse", for status messages
    namespace: Namespace  # where its objects live, and where CREATE is authorised (kind_table.py)
    create_privilege: str
    # What may be granted on it (GRANT ALL expands to these; OWNERSHIP goes without saying). A container
    # adds CREATE <kind> of the kinds registered inside it (KindTable.privileges).
    privileges: tuple[str, ...]
    properties: frozenset[str]  # accepted CREATE/ALTER ... SET properties; anything else is refused
    plural: str  # SHOW <plural>
    columns: tuple[Column, ...]
    row: Row
    describe: Callable[[Context, CatalogObject], Result] | None = None
    # Refuses a CREATE before anything changes, before OR REPLACE drops the object it replaces
    # ("CREATE OR REPLACE <object> statements are atomic", docs: sql-reference/sql/create-schema):
    # checks the statement's values and references, and touches nothing but the new object.
    check_create: CreateHook | None = None
    on_create: CreateHook | None = None
    # Dropping it drops what it holds: the objects of this namespace inside it (a database holds
    # schemas, a schema the schema objects), each through its own kind's on_drop.
    holds: Namespace | None = None
    # Runs when the object goes, by its own DROP or with the database or schema that holds it.
    on_drop: Hook | None = None
    # Runs before a DROP statement's drop: refuses it (a kind's DROP without FORCE while it keeps data)
    # or acts first (backing that data up under FORCE).
    check_drop: Callable[[Context, CatalogObject, ast.Drop], None] | None = None
    on_alter: AlterHook | None = None
    # The roles the object defines, each with what it covers (GRANT <object role> grants them).
    roles: Callable[[Context, CatalogObject], Mapping[str, tuple[str, ...]]] | None = None
    required: frozenset[str] = field(default_factory=frozenset)  # at CREATE; never UNSET...
    # ...except these, which UNSET puts back to their ``defaults`` (a network rule's VALUE_LIST).
    unsettable: frozenset[str] = field(default_factory=frozenset)
    # What ALTER ... UNSET puts back (a property without a default is removed).
    defaults: Mapping[str, Any] = field(default_factory=dict)
    created_word: str | None = None  # e.g. "Stage area" for stages


def remove_object(ctx: Context, kind: ObjectKind, obj: CatalogObject) -> None:
    """The object goes: its kind's drop hook, then its catalog entry and every grant on it. What it
    contains is the caller's business (``handlers/objects.drop_object`` cascades)."""
    if kind.on_drop is not None:
        kind.on_drop(ctx, obj)
    ctx.state.catalog.remove(obj.kind, obj.fqn)
    ctx.state.access.forget_object(obj.kind, obj.fqn, contains=ctx.state.kinds.is_container(obj.kind))
