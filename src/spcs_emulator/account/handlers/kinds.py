"""Per-kind behaviour of CREATE/DROP/ALTER/SHOW/DESCRIBE: one declaration per object kind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from spcs_emulator.account.context import Context
from spcs_emulator.account.objects import CatalogObject
from spcs_emulator.results import Column, Result
from spcs_emulator.sql import ast

Row = Callable[[Context, CatalogObject], Sequence[Any]]
Hook = Callable[[Context, CatalogObject], None]
CreateHook = Callable[[Context, CatalogObject, dict[str, Any]], None]


@dataclass
class KindSpec:
    kind: str
    word: str  # "Warehouse", for status messages
    scope: str  # "account" | "database" | "schema": where CREATE is authorised
    create_privilege: str
    properties: frozenset[str]  # accepted CREATE/ALTER ... SET properties; anything else is refused
    plural: str  # SHOW <plural>
    columns: tuple[Column, ...]
    row: Row
    describe: Callable[[Context, CatalogObject], Result] | None = None
    on_create: CreateHook | None = None
    on_drop: Hook | None = None
    # Refuses a DROP statement before anything happens (DROP SERVICE without FORCE on a block volume).
    check_drop: Callable[[Context, CatalogObject, ast.Drop], None] | None = None
    on_alter: Callable[[Context, CatalogObject, ast.Alter], Result | None] | None = None
    required: frozenset[str] = field(default_factory=frozenset)
    created_word: str | None = None  # e.g. "Stage area" for stages


KINDS: dict[str, KindSpec] = {}
BY_PLURAL: dict[str, KindSpec] = {}


def register(spec: KindSpec) -> KindSpec:
    KINDS[spec.kind] = spec
    BY_PLURAL[spec.plural] = spec
    return spec
